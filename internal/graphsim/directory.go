package graphsim

import (
	"net/http"
	"strings"
)

func (t *tenant) sku(id string) *sku {
	for _, k := range t.skus {
		if strings.EqualFold(k.SkuID, id) {
			return k
		}
	}
	return nil
}

func assignedSkuIDs(p map[string]any) []string {
	arr, _ := p["assignedLicenses"].([]any)
	var out []string
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			out = append(out, str(m["skuId"]))
		}
	}
	return out
}

func (k *sku) view() map[string]any {
	return map[string]any{
		"id":               "",
		"skuId":            k.SkuID,
		"skuPartNumber":    k.SkuPartNumber,
		"appliesTo":        "User",
		"capabilityStatus": "Enabled",
		"consumedUnits":    k.consumed,
		"prepaidUnits":     map[string]any{"enabled": k.Seats, "suspended": 0, "warning": 0, "lockedOut": 0},
		"servicePlans":     []any{},
	}
}

func (s *Server) listSkus(r *request) (*response, *apiError) {
	t := r.tenant
	items := make([]map[string]any, 0, len(t.skus))
	for _, k := range t.skus {
		v := k.view()
		// Graph's subscribedSku id is "<tenantId>_<skuId>".
		v["id"] = t.id + "_" + k.SkuID
		items = append(items, v)
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"@odata.context": r.baseURL + "/$metadata#subscribedSkus",
		"value":          items,
	}), nil
}

func (d Domain) view() map[string]any {
	at := d.AuthenticationType
	if at == "" {
		at = "Managed"
	}
	return map[string]any{
		"id": d.ID, "isVerified": d.IsVerified, "isDefault": d.IsDefault, "isInitial": d.IsInitial,
		"authenticationType": at, "isAdminManaged": true, "isRoot": true,
		"supportedServices": []any{"Email", "OfficeCommunicationsOnline"},
	}
}

func (s *Server) listDomains(r *request) (*response, *apiError) {
	items := []map[string]any{}
	for _, d := range r.tenant.domains {
		items = append(items, d.view())
	}
	return jsonResponse(http.StatusOK, map[string]any{"@odata.context": r.baseURL + "/$metadata#domains", "value": items}), nil
}

func (s *Server) getDomain(r *request, v []string) (*response, *apiError) {
	d := r.tenant.domain(v[0])
	if d == nil {
		return nil, notFound(v[0])
	}
	return jsonResponse(http.StatusOK, d.view()), nil
}

func (s *Server) organizationView(t *tenant) map[string]any {
	var verified []any
	for _, d := range t.domains {
		if d.IsVerified {
			verified = append(verified, map[string]any{"name": d.ID, "isDefault": d.IsDefault, "isInitial": d.IsInitial, "type": "Managed", "capabilities": "Email, OfficeCommunicationsOnline"})
		}
	}
	var plans []any
	for _, k := range t.skus {
		plans = append(plans, map[string]any{"capabilityStatus": "Enabled", "service": "exchange", "servicePlanId": k.SkuID})
	}
	return map[string]any{
		"id": t.id, "displayName": t.displayName, "tenantType": "AAD",
		"verifiedDomains": verified, "assignedPlans": nonNilAny(plans),
		"countryLetterCode": "GB", "preferredLanguage": "en",
		// Not a Graph property: lets a client see which edition it talks to.
		"simEdition": string(t.edition),
	}
}

func nonNilAny(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func (s *Server) listOrganization(r *request) (*response, *apiError) {
	return jsonResponse(http.StatusOK, map[string]any{
		"@odata.context": r.baseURL + "/$metadata#organization",
		"value":          []any{s.organizationView(r.tenant)},
	}), nil
}

func (s *Server) getOrganization(r *request, v []string) (*response, *apiError) {
	if !strings.EqualFold(v[0], r.tenant.id) {
		return nil, notFound(v[0])
	}
	return jsonResponse(http.StatusOK, s.organizationView(r.tenant)), nil
}

// assignLicense is POST /users/{id}/assignLicense (graph.md §3.2).
func (s *Server) assignLicense(r *request, v []string) (*response, *apiError) {
	t := r.tenant
	u, err := s.visibleUser(t, v[0])
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(body, "user.assignLicense", map[string]propKind{"addLicenses": kObjects, "removeLicenses": kStrings}); err != nil {
		return nil, err
	}
	_, hasAdd := body["addLicenses"]
	_, hasRemove := body["removeLicenses"]
	if !hasAdd || !hasRemove {
		// Both parameters are required by the action, even when empty.
		missing := "addLicenses"
		if hasAdd {
			missing = "removeLicenses"
		}
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: %s.", missing)
	}
	adds, _ := body["addLicenses"].([]any)
	removes := strSlice(body["removeLicenses"])
	if len(adds) > 0 && str(u.props["usageLocation"]) == "" {
		return nil, badRequest("License assignment cannot be done for user with invalid usage location.")
	}
	current := assignedSkuIDs(u.props)
	need := map[*sku]int{}
	for _, a := range adds {
		m := a.(map[string]any)
		id := str(m["skuId"])
		k := t.sku(id)
		if k == nil {
			return nil, badRequest("License %s does not correspond to a valid company License.", id)
		}
		if !contains(current, id) {
			need[k]++
		}
	}
	for _, id := range removes {
		if t.sku(id) == nil {
			return nil, badRequest("License %s does not correspond to a valid company License.", id)
		}
		if !contains(current, id) {
			return nil, badRequest("User does not have a corresponding license.")
		}
	}
	for k, n := range need {
		if k.consumed+n > k.Seats {
			return nil, badRequest("Subscription with SKU %s does not have any available licenses.", k.SkuID)
		}
	}
	var next []any
	for _, e := range u.props["assignedLicenses"].([]any) {
		id := str(e.(map[string]any)["skuId"])
		if contains(removes, id) {
			t.sku(id).consumed--
			continue
		}
		replaced := false
		for _, a := range adds {
			if strings.EqualFold(str(a.(map[string]any)["skuId"]), id) {
				replaced = true
			}
		}
		if !replaced {
			next = append(next, e)
		}
	}
	for _, a := range adds {
		m := a.(map[string]any)
		dp := m["disabledPlans"]
		if dp == nil {
			dp = []any{}
		}
		next = append(next, map[string]any{"skuId": strings.ToLower(str(m["skuId"])), "disabledPlans": dp})
	}
	for k, n := range need {
		k.consumed += n
	}
	u.props["assignedLicenses"] = nonNilAny(next)
	// A licensed user gets a mailbox: mail and its primary SMTP address
	// appear (immediately here; minutes later in Graph).
	if len(next) > 0 && u.props["mail"] == nil {
		upn := str(u.props["userPrincipalName"])
		u.props["mail"] = upn
		u.props["proxyAddresses"] = []any{"SMTP:" + upn}
	}
	t.touch(objUser, &u.meta)
	out := project(u.props, nil, userDefaults)
	out["@odata.context"] = r.baseURL + "/$metadata#users/$entity"
	return jsonResponse(http.StatusOK, out), nil
}
