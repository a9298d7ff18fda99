// Placeholder for github.com/akuity/kargo/api: the Go module proxy here does not serve Kargo's nested
// modules. Nothing in this program imports them; Go only needs their go.mod to load the module graph.
module github.com/akuity/kargo/api

go 1.26.0
