// Package e2e holds end-to-end tests of the users sync: the users entity
// (internal/reconcile) planning and applying through the production Graph
// client (msgraph-sdk-go via internal/graph) against the tenant simulator,
// with state in the embedded store on disk. It has no non-test code.
package e2e
