package tenant

import "time"

// Status is where a customer stands with its tenant; the empty status is a
// customer with no recorded consent yet (or one saved before statuses).
type Status string

const (
	// StatusConnected: admin consent was given and the last tenant check
	// acquired a token and read the tenant.
	StatusConnected Status = "connected"
	// StatusConsentRevoked: the tenant refused a token (or Graph answered
	// 401) for a customer that had consented, e.g. after the school's admin
	// removed the enterprise app. Runs need a new admin consent; nothing
	// retries by itself.
	StatusConsentRevoked Status = "consent_revoked"
	// StatusDisconnected: the vendor removed the customer's configuration
	// (DELETE .../configuration); a new admin consent reconnects it.
	StatusDisconnected Status = "disconnected"
)

// TenantInfo is what the last tenant check read from the customer's
// tenant through Graph. It is written by the service, never by a PUT.
type TenantInfo struct {
	DisplayName string `json:"displayName,omitempty"`
	// VerifiedDomains are the tenant's verified domain names, sorted.
	VerifiedDomains []string `json:"verifiedDomains"`
	// SKUs are the subscribed SKUs' part numbers, sorted.
	SKUs []string `json:"skus"`
	// Education is true when the tenant subscribes an education SKU or its
	// education API answers (see internal/graph TenantDetails).
	Education bool      `json:"education"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// Error is why the last check failed (ids and codes only), if it did.
	Error string `json:"error,omitempty"`
	// EducationRefusal is why a sync found the tenant not an education
	// tenant (its education API refused classrooms' read), and
	// EducationRefusedAt when: later runs refuse classrooms with this
	// reason without probing again, until a tenant check reads the tenant
	// anew (which replaces this record).
	EducationRefusal   string    `json:"educationRefusal,omitempty"`
	EducationRefusedAt time.Time `json:"educationRefusedAt,omitzero"`
}

// RecordNotEducation keeps on the customer that a sync found its tenant
// not an education tenant, and why: Education is false from then on. The
// tenant record is copied, never changed in place (a caller's copy of the
// customer shares it).
func (c *Customer) RecordNotEducation(reason string, at time.Time) {
	info := TenantInfo{VerifiedDomains: []string{}, SKUs: []string{}}
	if c.Tenant != nil {
		info = *c.Tenant
	}
	info.Education, info.EducationRefusal, info.EducationRefusedAt = false, reason, at.UTC()
	c.Tenant, c.Education = &info, false
}
