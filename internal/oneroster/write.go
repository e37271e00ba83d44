package oneroster

import (
	"archive/zip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rostersync/rostersync/internal/roster"
)

// WriteOptions configure Write. A nil *WriteOptions means the defaults.
type WriteOptions struct {
	// CRLF ends lines with "\r\n", as RFC 4180 specifies. The default
	// "\n" keeps files readable in diffs; Read accepts both.
	CRLF bool
}

// Write writes r as a bulk OneRoster 1.1 CSV feed, calling create once per
// file (manifest.csv first) and closing what it returns. Status and
// dateLastModified are left blank, as bulk mode requires; demographics.csv
// is written only when r has demographics. The password column stays
// empty: the model holds no passwords.
func Write(r *roster.Roster, create func(name string) (io.WriteCloser, error), opts *WriteOptions) error {
	var o WriteOptions
	if opts != nil {
		o = *opts
	}
	hasDemo := len(r.Demographics) > 0
	manifest := [][]string{
		{"propertyName", "value"},
		{"manifest.version", "1.0"},
		{"oneroster.version", "1.1"},
	}
	if r.Source.SystemName != "" {
		manifest = append(manifest, []string{"source.systemName", r.Source.SystemName})
	}
	if r.Source.SystemCode != "" {
		manifest = append(manifest, []string{"source.systemCode", r.Source.SystemCode})
	}
	for _, k := range Kinds {
		mode := ModeBulk
		if k == KindDemographics && !hasDemo {
			mode = ModeAbsent
		}
		manifest = append(manifest, []string{"file." + k.String(), string(mode)})
	}
	if err := writeFile(create, manifestFile, o, func(w *csv.Writer) error { return w.WriteAll(manifest) }); err != nil {
		return err
	}
	for _, k := range Kinds {
		if k == KindDemographics && !hasDemo {
			continue
		}
		err := writeFile(create, k.File(), o, func(w *csv.Writer) error {
			return writeKind(w, r, k)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func writeFile(create func(string) (io.WriteCloser, error), name string, o WriteOptions, body func(*csv.Writer) error) error {
	f, err := create(name)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	w := csv.NewWriter(f)
	w.UseCRLF = o.CRLF
	err = body(w)
	w.Flush()
	err = errors.Join(err, w.Error(), f.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func header(k Kind) []string {
	cs := tables[k].columns
	h := make([]string, len(cs))
	for i, c := range cs {
		h[i] = c.name
	}
	return h
}

func writeKind(w *csv.Writer, r *roster.Roster, k Kind) error {
	h := header(k)
	if err := w.Write(h); err != nil {
		return err
	}
	row := make([]string, len(h))
	emit := func(id string, set func(row []string)) error {
		clear(row)
		row[cSourcedID] = id
		set(row)
		return w.Write(row)
	}
	list := func(s []string) string { return strings.Join(s, ",") }
	var err error
	switch k {
	case KindOrgs:
		for _, x := range r.Orgs {
			if err = emit(x.SourcedID, func(row []string) {
				row[orgName], row[orgType], row[orgIdentifier], row[orgParent] = x.Name, string(x.Type), x.Identifier, x.Parent
			}); err != nil {
				return err
			}
		}
	case KindSessions:
		for _, x := range r.Sessions {
			if err = emit(x.SourcedID, func(row []string) {
				row[sesTitle], row[sesType], row[sesStart], row[sesEnd] = x.Title, string(x.Type), x.Start.String(), x.End.String()
				row[sesParent], row[sesSchoolYear] = x.Parent, x.SchoolYear
			}); err != nil {
				return err
			}
		}
	case KindCourses:
		for _, x := range r.Courses {
			if err = emit(x.SourcedID, func(row []string) {
				row[crsSchoolYear], row[crsTitle], row[crsCode], row[crsGrades] = x.SchoolYear, x.Title, x.Code, list(x.Grades)
				row[crsOrg], row[crsSubjects], row[crsSubjectCodes] = x.Org, list(x.Subjects), list(x.SubjectCodes)
			}); err != nil {
				return err
			}
		}
	case KindClasses:
		for _, x := range r.Classes {
			if err = emit(x.SourcedID, func(row []string) {
				row[clsTitle], row[clsGrades], row[clsCourse], row[clsCode] = x.Title, list(x.Grades), x.Course, x.Code
				row[clsType], row[clsLocation], row[clsSchool], row[clsTerms] = string(x.Type), x.Location, x.School, list(x.Terms)
				row[clsSubjects], row[clsSubjectCodes], row[clsPeriods] = list(x.Subjects), list(x.SubjectCodes), list(x.Periods)
			}); err != nil {
				return err
			}
		}
	case KindUsers:
		for _, x := range r.People {
			if err = emit(x.SourcedID, func(row []string) {
				row[usrEnabled], row[usrOrgs], row[usrRole], row[usrUsername] = fmt.Sprint(x.Enabled), list(x.Orgs), string(x.Role), x.Username
				row[usrUserIDs], row[usrGiven], row[usrFamily], row[usrMiddle] = formatUserIDs(x.UserIDs), x.GivenName, x.FamilyName, x.MiddleName
				row[usrIdentifier], row[usrEmail], row[usrSMS], row[usrPhone] = x.Identifier, x.Email, x.SMS, x.Phone
				row[usrAgents], row[usrGrades] = list(x.Agents), list(x.Grades)
			}); err != nil {
				return err
			}
		}
	case KindEnrollments:
		for _, x := range r.Enrollments {
			if err = emit(x.SourcedID, func(row []string) {
				row[enrClass], row[enrSchool], row[enrUser], row[enrRole] = x.Class, x.School, x.Person, string(x.Role)
				if x.Primary {
					row[enrPrimary] = "true"
				}
				row[enrBegin], row[enrEnd] = x.Begin.String(), x.End.String()
			}); err != nil {
				return err
			}
		}
	case KindDemographics:
		for _, x := range r.Demographics {
			if err = emit(x.SourcedID, func(row []string) {
				row[demBirthDate], row[demSex] = x.BirthDate.String(), string(x.Sex)
				for i, name := range raceColumns {
					row[demAmericanIndian+i] = "false"
					for _, got := range x.Races {
						if got == name {
							row[demAmericanIndian+i] = "true"
						}
					}
				}
				row[demHispanic] = fmt.Sprint(x.HispanicOrLatino)
				row[demCountry], row[demState], row[demCity], row[demResidence] = x.CountryOfBirthCode, x.StateOfBirthAbbreviation, x.CityOfBirth, x.PublicSchoolResidenceStatus
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func formatUserIDs(ids []roster.UserID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "{" + id.Type + ":" + id.Identifier + "}"
	}
	return strings.Join(parts, ",")
}

// WriteDir writes r as a bulk feed into dir, creating it if needed.
func WriteDir(dir string, r *roster.Roster, opts *WriteOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write roster feed: %w", err)
	}
	return Write(r, func(name string) (io.WriteCloser, error) {
		return os.Create(filepath.Join(dir, name))
	}, opts)
}

// WriteZip writes r as a bulk feed in a zip archive to w.
func WriteZip(w io.Writer, r *roster.Roster, opts *WriteOptions) error {
	zw := zip.NewWriter(w)
	err := Write(r, func(name string) (io.WriteCloser, error) {
		f, err := zw.Create(name)
		return nopCloser{f}, err
	}, opts)
	if cerr := zw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write roster zip: %w", cerr)
	}
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
