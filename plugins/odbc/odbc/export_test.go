package odbc

// ChunkQueries counts the chunk statements of keyset reads.
var ChunkQueries = &chunkQueries
