"""Compatibility routes, so code written for two hosted image-similarity APIs runs against this
server by changing its base URL: the Vecstore-style routes (:mod:`.vecstore`) and the
Ximilar-style similarity routes (:mod:`.ximilar`, its shapes in :mod:`.ximilar_shapes`).

Their records and queries become the core's items and queries through :mod:`lookalike.api.inputs`
like every route's; :mod:`.filters` rewrites their filters into lookalike's filter language and
:mod:`.records` adds their batches. Like every route, they decode, filter and score nothing
themselves."""
