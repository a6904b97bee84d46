// What the page is showing: the collection, its info, the query in force.

export const state = {
  collections: [],
  collection: null, // name
  info: null, // GET /collections/{name}
  query: null, // {kind, label, run: () => Promise}
  searchSeq: 0,
  objectUrls: [],
  previewUrl: null,
  people: null, // GET /collections/{name}/people
  page: 1, // of the search in force
  shown: null, // the address of the search shown
  viewing: null, // the record open in the viewer
};
