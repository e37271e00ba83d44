// Package graphsim is a Microsoft Graph v1.0 tenant simulator: an
// http.Handler that serves many simulated Microsoft 365 tenants, selected by
// the bearer token "sim:<tenantId>" (or "sim:<tenantId>:<appId>" to act as a
// second application), so that rostersync and its tests can drive the real
// msgraph-sdk-go client against Graph's documented behaviour without reaching
// Microsoft.
//
// # What it models
//
// Users, groups, education classes/schools/users, teams (asynchronous
// creation with teamsAsyncOperation polling, archive), user events, JSON
// $batch, delta queries, OData $select/$top/$filter/$count, paging with
// @odata.nextLink on the request's own host, Graph's error envelope and the
// validation and conflict errors a roster sync meets (shared/research/graph.md).
//
// # Throttling and time
//
// Every request is costed and charged against token buckets sized from
// Graph's documented limits (see [DefaultLimits]); a request that does not fit
// gets 429 with Retry-After, x-ms-throttle-scope and x-ms-throttle-information.
// Options.TimeScale shrinks every window, latency and eventual-consistency
// delay by the same factor, so a throttle-bound run keeps its shape while
// finishing sooner. Time comes from an injectable clock.Clock.
//
// # What it is not
//
// It is a fake, honest about its limits: it enforces the documented
// behaviour that matters to a roster sync and nothing else. Request bodies
// are not checked against the full Graph schema, permissions are not
// modelled beyond every token being app-only (it has every application
// permission, and is refused what Graph refuses applications, such as
// writing Exchange-backed group properties), and where Graph's behaviour
// is undocumented the choice made here is written next to the code.
package graphsim
