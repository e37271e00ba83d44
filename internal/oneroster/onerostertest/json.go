package onerostertest

import (
	"cmp"
	"slices"
	"time"
)

// records renders a collection as OneRoster 1.1 JSON objects, live records
// and deletions together in sourcedId order. The caller holds s.mu.
func (s *Server) records(name string) ([]map[string]any, bool) {
	r := s.r
	var out []map[string]any
	switch name {
	case "orgs":
		for _, x := range r.Orgs {
			out = append(out, obj(x.SourcedID, x.Modified, map[string]any{
				"name": x.Name, "type": x.Type, "identifier": x.Identifier, "parent": ref(x.Parent, "org"),
			}))
		}
	case "academicSessions":
		for _, x := range r.Sessions {
			out = append(out, obj(x.SourcedID, x.Modified, map[string]any{
				"title": x.Title, "type": x.Type, "startDate": x.Start, "endDate": x.End,
				"parent": ref(x.Parent, "academicSession"), "schoolYear": x.SchoolYear,
			}))
		}
	case "courses":
		for _, x := range r.Courses {
			out = append(out, obj(x.SourcedID, x.Modified, map[string]any{
				"title": x.Title, "courseCode": x.Code, "schoolYear": ref(x.SchoolYear, "academicSession"),
				"org": ref(x.Org, "org"), "grades": list(x.Grades), "subjects": list(x.Subjects), "subjectCodes": list(x.SubjectCodes),
			}))
		}
	case "classes":
		for _, x := range r.Classes {
			out = append(out, obj(x.SourcedID, x.Modified, map[string]any{
				"title": x.Title, "classCode": x.Code, "classType": x.Type, "location": x.Location,
				"course": ref(x.Course, "course"), "school": ref(x.School, "org"), "terms": refs(x.Terms, "academicSession"),
				"grades": list(x.Grades), "subjects": list(x.Subjects), "subjectCodes": list(x.SubjectCodes), "periods": list(x.Periods),
			}))
		}
	case "users":
		for _, x := range r.People {
			ids := []map[string]string{}
			for _, id := range x.UserIDs {
				ids = append(ids, map[string]string{"type": id.Type, "identifier": id.Identifier})
			}
			out = append(out, obj(x.SourcedID, x.Modified, map[string]any{
				// OneRoster 1.1 JSON writes this boolean as a string.
				"enabledUser": boolString(x.Enabled), "username": x.Username, "userIds": ids,
				"givenName": x.GivenName, "familyName": x.FamilyName, "middleName": x.MiddleName, "role": x.Role,
				"identifier": x.Identifier, "email": x.Email, "sms": x.SMS, "phone": x.Phone,
				"agents": refs(x.Agents, "user"), "orgs": refs(x.Orgs, "org"), "grades": list(x.Grades),
			}))
		}
	case "enrollments":
		for _, x := range r.Enrollments {
			o := obj(x.SourcedID, x.Modified, map[string]any{
				"user": ref(x.Person, "user"), "class": ref(x.Class, "class"), "school": ref(x.School, "org"),
				"role": x.Role, "primary": boolString(x.Primary),
			})
			if x.Begin != 0 {
				o["beginDate"] = x.Begin
			}
			if x.End != 0 {
				o["endDate"] = x.End
			}
			out = append(out, o)
		}
	case "demographics":
		for _, x := range r.Demographics {
			o := obj(x.SourcedID, x.Modified, map[string]any{
				"sex": x.Sex, "hispanicOrLatinoEthnicity": boolString(x.HispanicOrLatino),
				"countryOfBirthCode": x.CountryOfBirthCode, "stateOfBirthAbbreviation": x.StateOfBirthAbbreviation,
				"cityOfBirth": x.CityOfBirth, "publicSchoolResidenceStatus": x.PublicSchoolResidenceStatus,
			})
			if x.BirthDate != 0 {
				o["birthDate"] = x.BirthDate
			}
			for _, race := range []string{"americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
				"nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces"} {
				o[race] = boolString(slices.Contains(x.Races, race))
			}
			out = append(out, o)
		}
	default:
		return nil, false
	}
	for _, t := range s.tombs {
		if t.collection == name {
			out = append(out, map[string]any{"sourcedId": t.id, "status": "tobedeleted", "dateLastModified": t.at.UTC().Format(time.RFC3339)})
		}
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int { return cmp.Compare(a["sourcedId"].(string), b["sourcedId"].(string)) })
	return out, true
}

func obj(id string, mod time.Time, fields map[string]any) map[string]any {
	fields["sourcedId"] = id
	fields["status"] = "active"
	// A record without a change time has none in the roster either; real
	// providers always send one, and the client copes with both.
	if !mod.IsZero() {
		fields["dateLastModified"] = mod.UTC().Format(time.RFC3339)
	}
	return fields
}

func ref(id, typ string) any {
	if id == "" {
		return nil
	}
	return map[string]string{"href": "/" + typ + "s/" + id, "sourcedId": id, "type": typ}
}

func refs(ids []string, typ string) []any {
	out := []any{}
	for _, id := range ids {
		out = append(out, ref(id, typ))
	}
	return out
}

func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
