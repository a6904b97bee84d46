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
};
