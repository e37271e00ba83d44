package infracheck

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// The property names the Functions host and its extensions read. The host
// ignores a name it does not know, so a misspelt or outdated property (the
// Service Bus v4 "autoComplete" in a v5 app, say) silently keeps its
// default; infracheck refuses it instead.
//
// Sources: host.json reference (learn.microsoft.com functions-host-json),
// the custom handlers article (functions-custom-handlers: customHandler,
// enableForwardingHttpRequest, enableProxyingHttpRequest) and
// HttpWorkerOptions in azure-functions-host; the Service Bus extension 5.x
// ServiceBusOptions (Microsoft.Azure.WebJobs.Extensions.ServiceBus 5.16:
// AutoCompleteMessages, ClientRetryOptions, EnableCrossEntityTransactions,
// MaxAutoLockRenewalDuration, MaxBatchWaitTime, MaxConcurrentCalls,
// MaxConcurrentCallsPerSession, MaxConcurrentSessions, MaxMessageBatchSize,
// MinMessageBatchSize, PrefetchCount, SessionIdleTimeout, TransportType,
// WebProxy) and the trigger's function.json table
// (functions-bindings-service-bus-trigger: autoCompleteMessages, not the
// 2.x-4.x autoComplete); the timer and HTTP trigger function.json tables.
var hostJSONProps = map[string][]string{
	"":                          {"version", "customHandler", "extensionBundle", "functionTimeout", "logging", "extensions", "healthMonitor", "retry", "singleton", "watchDirectories", "watchFiles", "concurrency", "aggregator", "functions", "console", "telemetryMode", "configurationProfile", "managedDependency"},
	"customHandler":             {"description", "enableForwardingHttpRequest", "enableProxyingHttpRequest", "http", "port"},
	"customHandler/description": {"defaultExecutablePath", "defaultWorkerPath", "workingDirectory", "arguments"},
	"customHandler/http":        {"enableProxying", "defaultAuthorizationLevel", "routes"},
	"extensionBundle":           {"id", "version"},
	"logging":                   {"fileLoggingMode", "logLevel", "applicationInsights", "console"},
	"extensions":                {"http", "serviceBus"},
	"extensions/http":           {"routePrefix", "maxOutstandingRequests", "maxConcurrentRequests", "dynamicThrottlesEnabled", "hsts", "customHeaders"},
	"extensions/serviceBus":     {"prefetchCount", "autoCompleteMessages", "maxAutoLockRenewalDuration", "maxConcurrentCalls", "maxConcurrentCallsPerSession", "maxConcurrentSessions", "maxMessageBatchSize", "minMessageBatchSize", "maxBatchWaitTime", "sessionIdleTimeout", "enableCrossEntityTransactions", "clientRetryOptions", "transportType", "webProxy"},
	"extensions/serviceBus/clientRetryOptions": {"mode", "tryTimeout", "delay", "maxDelay", "maxRetries"},
}

// functionJSONProps are the top-level keys of a function.json.
var functionJSONProps = []string{"bindings", "disabled", "retry", "scriptFile", "entryPoint", "excluded"}

// bindingProps are a binding's keys, by type; every binding also has name,
// type, direction and may have dataType.
var bindingProps = map[string][]string{
	"timerTrigger":      {"schedule", "runOnStartup", "useMonitor"},
	"serviceBusTrigger": {"queueName", "topicName", "subscriptionName", "connection", "isSessionsEnabled", "autoCompleteMessages", "cardinality"},
	"httpTrigger":       {"authLevel", "methods", "route", "webHookType"},
	"http":              {},
}

var bindingCommon = []string{"name", "type", "direction", "dataType"}

// checkProperties reports every host.json and function.json key the host
// does not read, and host.json settings that cannot apply to the functions
// there are.
func (c *checker) checkProperties() {
	c.checkObject(c.host, "", c.host.data, hostJSONProps)
	sessionsOnly, anyBus := true, false
	for _, doc := range c.functions {
		for _, k := range sortedKeys(doc.data) {
			if !contains(functionJSONProps, k) {
				c.add(KindProperty, path.Base(path.Dir(doc.path))+"/"+k, doc.pos(k), "function.json has %q, which the host does not read (it reads %s)", k, strings.Join(functionJSONProps, ", "))
			}
		}
	}
	for _, b := range c.bindings {
		list, _ := b.doc.data["bindings"].([]any)
		m, _ := list[b.index].(map[string]any)
		known, ok := bindingProps[b.typ]
		if !ok {
			continue // checkBindings reports unknown types
		}
		if b.typ == "serviceBusTrigger" {
			anyBus = true
			sessionsOnly = sessionsOnly && b.sessions
		}
		for _, k := range sortedKeys(m) {
			if contains(bindingCommon, k) || contains(known, k) {
				continue
			}
			detail := fmt.Sprintf("%s has %q, which a %s binding does not read", b.label(), k, b.typ)
			if k == "autoComplete" {
				detail += "; the Service Bus extension 5.x names it autoCompleteMessages"
			}
			c.add(KindProperty, b.fn+"/"+b.name+"/"+k, b.pos(k), "%s", detail)
		}
	}
	ext, _ := c.host.data["extensions"].(map[string]any)
	sb, _ := ext["serviceBus"].(map[string]any)
	if _, ok := sb["maxConcurrentCalls"]; ok && anyBus && sessionsOnly {
		c.add(KindProperty, "extensions/serviceBus/maxConcurrentCalls", c.host.pos("extensions/serviceBus/maxConcurrentCalls"),
			"every Service Bus trigger is session-enabled, and session triggers read maxConcurrentSessions (and maxConcurrentCallsPerSession), not maxConcurrentCalls")
	}
}

// checkObject reports keys of obj (at slash path at in doc) not listed in
// props[at], and recurses into the objects whose keys props lists.
func (c *checker) checkObject(doc *jsonDoc, at string, obj map[string]any, props map[string][]string) {
	known, ok := props[at]
	if !ok {
		return // free-form (logLevel, customHeaders, …)
	}
	for _, k := range sortedKeys(obj) {
		p := k
		if at != "" {
			p = at + "/" + k
		}
		if !contains(known, k) {
			c.add(KindProperty, p, doc.pos(p), "%s has %q, which the host does not read here (it reads %s)", doc.path, p, strings.Join(known, ", "))
			continue
		}
		if child, ok := obj[k].(map[string]any); ok {
			c.checkObject(doc, p, child, props)
		}
	}
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
