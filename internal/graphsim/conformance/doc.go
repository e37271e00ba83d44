// Package conformance holds the graphsim conformance suite: tests that drive
// every simulated endpoint and error through msgraph-sdk-go, the production
// client, with its default middleware (gzip request bodies, retry handler)
// and the msgraph-sdk-go-core $batch and paging helpers. It is a separate
// package so that only these tests pay msgraph-sdk-go's compile cost; it
// has no non-test code.
package conformance
