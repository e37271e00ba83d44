package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/microsoftgraph/msgraph-sdk-go/education"
	"github.com/microsoftgraph/msgraph-sdk-go/organization"
)

// ErrConsentRevoked is wrapped by the errors of a tenant that refuses the
// app: token acquisition refused by Entra (the app's service principal is
// gone or its consent withdrawn) or Graph answering 401. Retrying does not
// help; the customer's admin has to consent again.
var ErrConsentRevoked = errors.New("the tenant refused the app (admin consent revoked or never given)")

// TenantDetails is what onboarding reads from a customer's tenant.
type TenantDetails struct {
	DisplayName string
	// VerifiedDomains and SKUs (subscribed SKUs' part numbers) are sorted.
	VerifiedDomains []string
	SKUs            []string
	// Education: an education SKU is subscribed (part number with
	// STUDENT, FACULTY or EDU, Microsoft's naming for Office 365 A1/A3/A5
	// and Microsoft 365 A plans), or GET /education/classes answers — the
	// rostering API refuses non-education tenants.
	Education bool
}

// TenantDetails reads /organization, /domains, /subscribedSkus and probes
// /education/classes. A refused token or a 401 wraps ErrConsentRevoked.
func (c *Client) TenantDetails(ctx context.Context) (TenantDetails, error) {
	var d TenantDetails
	orgs, err := c.sdk.Organization().Get(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{
		QueryParameters: &organization.OrganizationRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
	})
	if err != nil {
		return d, c.tenantError("read the organization", err)
	}
	for _, o := range orgs.GetValue() {
		if strings.EqualFold(deref(o.GetId()), c.tenantID) || d.DisplayName == "" {
			d.DisplayName = deref(o.GetDisplayName())
		}
	}
	if d.VerifiedDomains, err = c.verifiedDomains(ctx); err != nil {
		return d, c.tenantError("read the domains", err)
	}
	skus, err := c.sdk.SubscribedSkus().Get(ctx, nil)
	if err != nil {
		return d, c.tenantError("read the subscribed SKUs", err)
	}
	d.SKUs = []string{}
	for _, s := range skus.GetValue() {
		if p := deref(s.GetSkuPartNumber()); p != "" {
			d.SKUs = append(d.SKUs, p)
			if educationSKU(p) {
				d.Education = true
			}
		}
	}
	slices.Sort(d.SKUs)
	if !d.Education {
		top := int32(1)
		_, err := c.sdk.Education().Classes().Get(ctx, &education.ClassesRequestBuilderGetRequestConfiguration{
			QueryParameters: &education.ClassesRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id"}},
		})
		var api interface{ GetStatusCode() int }
		switch {
		case err == nil:
			d.Education = true
		case errors.As(err, &api) && (api.GetStatusCode() == http.StatusBadRequest || api.GetStatusCode() == http.StatusForbidden || api.GetStatusCode() == http.StatusNotFound):
			// Refused: not an education tenant.
		default:
			return d, c.tenantError("probe the education API", err)
		}
	}
	return d, nil
}

// educationSKU reports whether a SKU part number is one of Microsoft's
// education plans (e.g. STANDARDWOFFPACK_STUDENT, M365EDU_A3_FACULTY).
func educationSKU(part string) bool {
	p := strings.ToUpper(part)
	return strings.Contains(p, "STUDENT") || strings.Contains(p, "FACULTY") || strings.Contains(p, "EDU")
}

// tenantError wraps ErrConsentRevoked for a refused token or a 401, and
// keeps the status (transient or not) on any other Graph answer.
func (c *Client) tenantError(what string, err error) error {
	if ConsentRevoked(err) {
		return fmt.Errorf("%s of tenant %s: %w: %v", what, c.tenantID, ErrConsentRevoked, err)
	}
	return fmt.Errorf("%s of tenant %s: %w", what, c.tenantID, classify(err))
}

// ConsentRevoked reports whether err is the tenant refusing the app: Entra
// refusing the token with a 4xx (invalid_client, unauthorized_client,
// AADSTS7000229 "no service principal"…) or Graph answering 401.
func ConsentRevoked(err error) bool {
	if errors.Is(err, ErrConsentRevoked) {
		return true
	}
	var auth *azidentity.AuthenticationFailedError
	if errors.As(err, &auth) {
		return auth.RawResponse != nil && auth.RawResponse.StatusCode >= 400 && auth.RawResponse.StatusCode < 500
	}
	var api interface{ GetStatusCode() int }
	return errors.As(err, &api) && api.GetStatusCode() == http.StatusUnauthorized
}
