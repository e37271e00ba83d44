// Package sample generates realistic UK secondary-school rosters for demos,
// tests and benchmarks: a trust of one or more schools, each with Years
// 7–13, registration groups, and teaching groups shaped like a real
// timetable (setted core subjects in Key Stage 3, GCSE option blocks in
// Key Stage 4, A-level groups in the sixth form).
//
// Output is a pure function of Options: the same seed gives the same roster
// on every machine and Go release (the random source is a fixed SplitMix64,
// not math/rand), so generated files can be committed and compared.
package sample

import (
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/rostersync/rostersync/internal/roster"
)

// Options say what to generate. The zero value gives the default school.
type Options struct {
	// Seed picks the names, groupings and every other random choice.
	Seed uint64
	// Students and Staff are per school. Zero means DefaultStudents and
	// DefaultStaff; a negative value means none.
	Students, Staff int
	// Schools is the number of schools in the trust. Zero means 1.
	Schools int
	// StartYear is the calendar year the academic year starts in. Zero
	// means 2025 (the 2025/26 school year).
	StartYear int
	// NoDemographics leaves out demographics (dates of birth and sex).
	NoDemographics bool
	// NonLatinShare is the share (0 to 1) of pupils and staff whose names
	// the MIS holds in Cyrillic, Greek or Chinese, as UK schools' feeds
	// do (about 1%: 17 of 1,650). Zero means none, and leaves every other
	// choice as it was without the option.
	NonLatinShare float64
}

const (
	// DefaultStudents and DefaultStaff make a school of 1,650 people, the
	// size the benchmarks in SPEC §11 use.
	DefaultStudents = 1500
	DefaultStaff    = 150
)

// Oakfield returns the default sample school, the one committed under
// testdata/schools/oakfield.
func Oakfield() *roster.Roster { return Generate(Options{Seed: 1}) }

// Generate builds a roster. It never fails: every combination of options
// yields a valid roster (validation is the test of that).
func Generate(o Options) *roster.Roster {
	o = o.withDefaults()
	g := &gen{o: o, rng: rng{s: o.Seed}, r: &roster.Roster{Source: roster.Source{SystemName: "rostersync sample MIS", SystemCode: "RSSAMPLE"}}}
	g.sessions()
	trustName := "Oakfield Learning Trust"
	if o.Schools > 1 {
		trustName = fmt.Sprintf("%s Schools Trust", towns[int(o.Seed%uint64(len(towns)))])
	}
	g.r.Orgs = append(g.r.Orgs, roster.Org{SourcedID: "trust", Name: trustName, Type: roster.OrgDistrict, Identifier: "TR" + fmt.Sprint(1000+o.Seed%9000)})
	for i := range o.Schools {
		g.school(i)
	}
	g.r.Sort()
	return g.r
}

func (o Options) withDefaults() Options {
	if o.Students == 0 {
		o.Students = DefaultStudents
	}
	if o.Staff == 0 {
		o.Staff = DefaultStaff
	}
	o.Students, o.Staff = max(o.Students, 0), max(o.Staff, 0)
	if o.Schools <= 0 {
		o.Schools = 1
	}
	if o.StartYear == 0 {
		o.StartYear = 2025
	}
	o.NonLatinShare = min(max(o.NonLatinShare, 0), 1)
	return o
}

// rng is SplitMix64: tiny, fast and, unlike math/rand, fixed forever.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// intn returns a number in [0, n) by multiply-shift (Lemire), n > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

func (r *rng) pick(s []string) string { return s[r.intn(len(s))] }

func (r *rng) shuffle(s []int) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

type gen struct {
	o     Options
	rng   rng
	r     *roster.Roster
	year  string // school-year session id
	terms []string
}

func (g *gen) date(yearOffset int, m time.Month, d int) roster.Date {
	return roster.NewDate(g.o.StartYear+yearOffset, m, d)
}

func (g *gen) sessions() {
	y := g.o.StartYear
	g.year = fmt.Sprintf("ay%d", y)
	sy := fmt.Sprint(y + 1)
	g.r.Sessions = append(g.r.Sessions, roster.Session{SourcedID: g.year, Title: fmt.Sprintf("%d/%02d", y, (y+1)%100),
		// The school year runs to 31 August, so that every date of the
		// calendar falls in one: a sample written in August still syncs.
		Type: roster.SessionSchoolYear, Start: g.date(0, 9, 1), End: g.date(1, 8, 31), SchoolYear: sy})
	terms := []struct {
		name       string
		start, end roster.Date
	}{
		{fmt.Sprintf("Autumn %d", y), g.date(0, 9, 1), g.date(0, 12, 19)},
		{fmt.Sprintf("Spring %d", y+1), g.date(1, 1, 5), g.date(1, 3, 27)},
		{fmt.Sprintf("Summer %d", y+1), g.date(1, 4, 13), g.date(1, 7, 22)},
	}
	for i, t := range terms {
		id := fmt.Sprintf("%s-t%d", g.year, i+1)
		g.terms = append(g.terms, id)
		g.r.Sessions = append(g.r.Sessions, roster.Session{SourcedID: id, Title: t.name, Type: roster.SessionTerm,
			Start: t.start, End: t.end, Parent: g.year, SchoolYear: sy})
	}
}

type subject struct {
	code, name string
	periods    int  // lessons a week, for the periods column
	setted     bool // grouped by attainment (a random order here)
}

var (
	ks3 = []subject{
		{"En", "English", 4, true}, {"Ma", "Mathematics", 4, true}, {"Sc", "Science", 3, true},
		{"Hi", "History", 2, false}, {"Gg", "Geography", 2, false}, {"Fr", "French", 2, false},
		{"Cp", "Computing", 1, false}, {"Ar", "Art", 1, false}, {"Mu", "Music", 1, false},
		{"Dt", "Design and Technology", 1, false}, {"Pe", "Physical Education", 2, false},
		{"Re", "Religious Education", 1, false}, {"Dr", "Drama", 1, false},
	}
	ks4Core = []subject{
		{"En", "English", 4, true}, {"Ma", "Mathematics", 4, true}, {"Sc", "Combined Science", 5, true},
		{"Pe", "Physical Education", 2, false}, {"Re", "Religious Education", 1, false},
	}
	ks4Options = []subject{
		{"Hi", "History", 3, false}, {"Gg", "Geography", 3, false}, {"Fr", "French", 3, false},
		{"Sp", "Spanish", 3, false}, {"Cs", "Computer Science", 3, false}, {"Ar", "Art and Design", 3, false},
		{"Mu", "Music", 3, false}, {"Dt", "Design and Technology", 3, false}, {"Dr", "Drama", 3, false},
		{"Bs", "Business", 3, false}, {"Fd", "Food Preparation and Nutrition", 3, false},
	}
	ks5 = []subject{
		{"Ma", "Mathematics", 5, false}, {"Fm", "Further Mathematics", 5, false}, {"Ph", "Physics", 5, false},
		{"Ch", "Chemistry", 5, false}, {"Bi", "Biology", 5, false}, {"El", "English Literature", 5, false},
		{"Hi", "History", 5, false}, {"Gg", "Geography", 5, false}, {"Ps", "Psychology", 5, false},
		{"So", "Sociology", 5, false}, {"Ec", "Economics", 5, false}, {"Bs", "Business", 5, false},
		{"Ar", "Art and Design", 5, false}, {"Cs", "Computer Science", 5, false}, {"Fr", "French", 5, false},
	}
	formLetters = []string{"A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "W"}
	days        = []string{"Mon", "Tue", "Wed", "Thu", "Fri"}
)

// school holds one school's state while it is generated.
type school struct {
	g        *gen
	id       string
	domain   string
	students []int // indexes into g.r.People, per grade order
	byYear   map[int][]int
	teachers []int
	load     map[int]int // teacher index -> groups taught
	subjT    map[string][]int
	enrol    int
	users    map[string]int // usernames in use, for suffixes
	codes    map[string]int
	late     map[int]bool // late joiners (by person index)
	girl     map[int]bool // by person index, so a namesake gets a matching sex
	rank     map[int]int  // by person index: a random attainment order for sets
}

func (g *gen) school(i int) {
	name := schoolNames[i%len(schoolNames)]
	if i >= len(schoolNames) {
		name = fmt.Sprintf("%s %s", towns[i/len(schoolNames)%len(towns)], name)
	}
	s := &school{
		g: g, id: fmt.Sprintf("s%02d", i+1), byYear: map[int][]int{}, load: map[int]int{}, subjT: map[string][]int{},
		users: map[string]int{}, codes: map[string]int{}, late: map[int]bool{}, girl: map[int]bool{}, rank: map[int]int{},
	}
	s.domain = asciiLower(name[:len(name)-len(lastWord(name))]) + ".sch.uk"
	g.r.Orgs = append(g.r.Orgs, roster.Org{SourcedID: s.id, Name: name, Type: roster.OrgSchool,
		Identifier: fmt.Sprintf("878%04d", 4001+i), Parent: "trust"})
	s.makeStudents()
	groups := s.plan()
	s.makeStaff(groups)
	s.makeClasses(groups)
}

func lastWord(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ' ' {
			return s[i:]
		}
	}
	return ""
}

// yearSizes splits n pupils over Years 7–13: about 15% in the sixth form,
// the rest evenly over Years 7–11.
func yearSizes(n int) map[int]int {
	sixth := n * 15 / 100
	main := n - sixth
	sizes := map[int]int{12: sixth - sixth/2, 13: sixth / 2}
	for y := 7; y <= 11; y++ {
		sizes[y] = main / 5
		if y-7 < main%5 {
			sizes[y]++
		}
	}
	return sizes
}

func (s *school) username(base string) string {
	s.users[base]++
	if n := s.users[base]; n > 1 {
		return fmt.Sprintf("%s%d", base, n)
	}
	return base
}

func (s *school) makeStudents() {
	g := s.g
	sizes := yearSizes(g.o.Students)
	serial := 0
	for y := 7; y <= 13; y++ {
		// Admission numbers and usernames carry the year the pupil joined
		// Year 7, so they do not change as the pupil moves up.
		entry := g.o.StartYear - (y - 7)
		for k := range sizes[y] {
			serial++
			girl := g.rng.intn(2) == 0
			given, fam := g.pickName(girl)
			if k == 1 {
				// Every year group has two pupils with the same name: the
				// case matching by name gets wrong.
				prev := &g.r.People[s.byYear[y][0]]
				given, fam, girl = prev.GivenName, prev.FamilyName, s.girl[s.byYear[y][0]]
			}
			yy := entry % 100
			adm := fmt.Sprintf("%02d%04d", yy, serial)
			id := fmt.Sprintf("%s-stu%04d", s.id, serial)
			p := roster.Person{
				SourcedID: id, Role: roster.RoleStudent, Enabled: g.rng.intn(200) != 0,
				Username:   s.username(fmt.Sprintf("%02d%s%s", yy, asciiLower(fam), firstLetter(asciiLower(given)))),
				UserIDs:    []roster.UserID{{Type: "UPN", Identifier: upn(878, 4001+indexOf(s.id), yy, serial)}, {Type: "AdmissionNo", Identifier: adm}},
				Identifier: adm, GivenName: given, FamilyName: fam,
				Orgs: []string{s.id}, Grades: []string{fmt.Sprintf("%02d", y)},
			}
			if g.rng.intn(10) == 0 {
				p.MiddleName = g.rng.pick(givenGirls)
				if !girl {
					p.MiddleName = g.rng.pick(givenBoys)
				}
			}
			idx := len(g.r.People)
			g.r.People = append(g.r.People, p)
			s.byYear[y] = append(s.byYear[y], idx)
			s.girl[idx] = girl
			s.rank[idx] = g.rng.intn(1 << 30)
			s.students = append(s.students, idx)
			if g.rng.intn(100) == 0 {
				s.late[idx] = true
			}
			if !g.o.NoDemographics {
				g.r.Demographics = append(g.r.Demographics, roster.Demographics{
					SourcedID: id, BirthDate: g.birthDate(y), Sex: sexOf(girl),
				})
			}
		}
	}
}

func sexOf(girl bool) roster.Sex {
	if girl {
		return roster.SexFemale
	}
	return roster.SexMale
}

func firstLetter(s string) string {
	if s == "" {
		return "x"
	}
	return s[:1]
}

func indexOf(schoolID string) int {
	var n int
	fmt.Sscanf(schoolID, "s%d", &n)
	return n - 1
}

// birthDate gives a pupil in year y a birthday in the English cohort for
// that year: Year 7 in 2025/26 was born September 2013 to August 2014.
func (g *gen) birthDate(y int) roster.Date {
	start := time.Date(g.o.StartYear-y-5, time.September, 1, 0, 0, 0, 0, time.UTC)
	return roster.DateOf(start.AddDate(0, 0, g.rng.intn(365)))
}

// upn returns an English Unique Pupil Number: a check letter, the LA code,
// the establishment number, the year of allocation and a serial.
func upn(la, estab, year, serial int) string {
	digits := fmt.Sprintf("%03d%04d%02d%03d", la, estab%10000, year%100, serial%1000)
	sum := 0
	for i, d := range digits {
		sum += int(d-'0') * (i + 2)
	}
	return string("ABCDEFGHJKLMNPQRTUVWXYZ"[sum%23]) + digits
}

// group is one planned class.
type group struct {
	id, title, code string
	year            int
	typ             roster.ClassType
	subj            subject
	members         []int
	periods         []string
	location        string
}

// plan lays out the registration and teaching groups of the school and
// their pupils.
func (s *school) plan() []*group {
	g := s.g
	var groups []*group
	for y := 7; y <= 13; y++ {
		pupils := slices.Clone(s.byYear[y])
		if len(pupils) == 0 {
			continue
		}
		size := 30
		if y >= 12 {
			size = 20
		}
		// Registration groups: a random mix, as forms are.
		g.rng.shuffle(pupils)
		for f, chunk := range split(pupils, ceilDiv(len(pupils), size)) {
			name := fmt.Sprintf("%d%s", y, formLetters[f%len(formLetters)])
			if f >= len(formLetters) {
				name += fmt.Sprint(f / len(formLetters))
			}
			groups = append(groups, &group{id: fmt.Sprintf("%s-%s", s.id, lower(name)), title: name, code: name, year: y,
				typ: roster.ClassHomeroom, subj: subject{code: "Reg", name: "Registration"}, members: chunk,
				location: fmt.Sprintf("Room %s%d", []string{"A", "B", "C", "S"}[y%4], 1+f)})
		}
		switch {
		case y <= 9:
			for _, sub := range ks3 {
				groups = append(groups, s.sets(y, sub, "", s.byYear[y], size)...)
			}
		case y <= 11:
			for _, sub := range ks4Core {
				groups = append(groups, s.sets(y, sub, "", s.byYear[y], size)...)
			}
			// Four option blocks: each pupil picks four different subjects,
			// one per block.
			blocks := make([]map[string][]int, 4)
			for b := range blocks {
				blocks[b] = map[string][]int{}
			}
			for _, p := range s.byYear[y] {
				choice := pickDistinct(&g.rng, len(ks4Options), 4)
				for b, c := range choice {
					blocks[b][ks4Options[c].code] = append(blocks[b][ks4Options[c].code], p)
				}
			}
			for b, blk := range blocks {
				for _, sub := range ks4Options {
					if m := blk[sub.code]; len(m) > 0 {
						groups = append(groups, s.sets(y, sub, string(rune('A'+b)), m, size)...)
					}
				}
			}
		default:
			chosen := map[string][]int{}
			for _, p := range s.byYear[y] {
				for _, c := range pickDistinct(&g.rng, len(ks5), 3) {
					chosen[ks5[c].code] = append(chosen[ks5[c].code], p)
				}
			}
			for _, sub := range ks5 {
				if m := chosen[sub.code]; len(m) > 0 {
					groups = append(groups, s.sets(y, sub, "", m, size)...)
				}
			}
		}
	}
	return groups
}

// sets splits pupils into teaching groups of at most size, named in the
// UK style: 7x/Ma1 (year, band, subject, set), 10A/Hi1 (option block A).
func (s *school) sets(y int, sub subject, block string, pupils []int, size int) []*group {
	g := s.g
	pupils = slices.Clone(pupils)
	if sub.setted {
		// Setted subjects group by attainment, which correlates across
		// subjects: the same pupils tend to share the top sets.
		slices.SortFunc(pupils, func(a, b int) int { return s.rank[a] - s.rank[b] })
	} else {
		g.rng.shuffle(pupils)
	}
	n := ceilDiv(len(pupils), size)
	var out []*group
	for k, chunk := range split(pupils, n) {
		band := block
		if band == "" && y <= 11 {
			band = "x"
			if k >= (n+1)/2 {
				band = "y"
			}
		}
		title := fmt.Sprintf("%d%s/%s%d", y, band, sub.code, k+1)
		room := fmt.Sprintf("%s%d", sub.code[:1], 1+g.rng.intn(12))
		if sub.code == "Pe" {
			room = "Sports Hall, Court " + fmt.Sprint(1+g.rng.intn(4))
		}
		out = append(out, &group{
			id: fmt.Sprintf("%s-%d%s-%s%d", s.id, y, lower(band), lower(sub.code), k+1), title: title, code: title, year: y,
			typ: roster.ClassScheduled, subj: sub, members: chunk, periods: g.periods(sub.periods), location: room,
		})
	}
	return out
}

func (g *gen) periods(n int) []string {
	slots := pickDistinct(&g.rng, 25, n)
	slices.Sort(slots)
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = fmt.Sprintf("%s:%d", days[s/5], 1+s%5)
	}
	return out
}

// pickDistinct returns k distinct numbers from [0, n) (all of them if
// k >= n), in the order drawn.
func pickDistinct(r *rng, n, k int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	k = min(k, n)
	for i := range k {
		j := i + r.intn(n-i)
		all[i], all[j] = all[j], all[i]
	}
	return all[:k]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// split divides s into n nearly equal consecutive chunks.
func split(s []int, n int) [][]int {
	if n <= 0 {
		return nil
	}
	out := make([][]int, 0, n)
	for i := range n {
		lo, hi := i*len(s)/n, (i+1)*len(s)/n
		out = append(out, s[lo:hi])
	}
	return out
}

func lower(s string) string { return asciiLower(s) }

// makeStaff creates the staff: three quarters teachers (spread over
// subjects in proportion to the groups each subject has), the rest
// teaching assistants (aide) and office staff (administrator).
func (s *school) makeStaff(groups []*group) {
	g := s.g
	n := g.o.Staff
	teachers := (n*3 + 2) / 4
	aides := (n - teachers) * 6 / 10
	perSubject := map[string]int{}
	var subjects []string
	for _, gr := range groups {
		if gr.typ == roster.ClassScheduled {
			if perSubject[gr.subj.name] == 0 {
				subjects = append(subjects, gr.subj.name)
			}
			perSubject[gr.subj.name]++
		}
	}
	slices.Sort(subjects)
	total := 0
	for _, c := range perSubject {
		total += c
	}
	// Largest share first, so small staffs still cover the core subjects.
	slices.SortStableFunc(subjects, func(a, b string) int { return perSubject[b] - perSubject[a] })
	for k := range n {
		role := roster.RoleAdministrator
		switch {
		case k < teachers:
			role = roster.RoleTeacher
		case k < teachers+aides:
			role = roster.RoleAide
		}
		girl := g.rng.intn(2) == 0
		given, fam := g.pickName(girl)
		code := s.staffCode(given, fam)
		local := s.username(firstLetter(asciiLower(given)) + "." + asciiLower(fam))
		idx := len(g.r.People)
		g.r.People = append(g.r.People, roster.Person{
			SourcedID: fmt.Sprintf("%s-stf%03d", s.id, k+1), Role: role, Enabled: true,
			Username: local, UserIDs: []roster.UserID{{Type: "StaffCode", Identifier: code}}, Identifier: code,
			GivenName: given, FamilyName: fam, Email: local + "@" + s.domain, Orgs: []string{s.id},
		})
		if role == roster.RoleTeacher {
			s.teachers = append(s.teachers, idx)
			if total > 0 {
				// Teacher k takes the subject whose share of groups is least
				// covered so far.
				best, bestGap := subjects[0], -1.0
				for _, sub := range subjects {
					gap := float64(perSubject[sub])/float64(total)*float64(teachers) - float64(len(s.subjT[sub]))
					if gap > bestGap {
						best, bestGap = sub, gap
					}
				}
				s.subjT[best] = append(s.subjT[best], idx)
			}
		}
	}
}

func (s *school) staffCode(given, fam string) string {
	g, f := asciiLower(given)+"xx", asciiLower(fam)+"xx"
	base := upper(g[:1] + f[:2])
	s.codes[base]++
	if n := s.codes[base]; n > 1 {
		return fmt.Sprintf("%s%d", base, n)
	}
	return base
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// teacherFor picks the least-loaded teacher of the subject, or of any
// subject when it has none.
func (s *school) teacherFor(subject string, not int) (int, bool) {
	pool := s.subjT[subject]
	if len(pool) == 0 {
		pool = s.teachers
	}
	best, found := 0, false
	for _, t := range pool {
		if t == not {
			continue
		}
		if !found || s.load[t] < s.load[best] {
			best, found = t, true
		}
	}
	if found {
		s.load[best]++
	}
	return best, found
}

func (s *school) makeClasses(groups []*group) {
	g := s.g
	courses := map[string]bool{}
	lateStart := g.date(0, 11, 3)
	tutors := slices.Clone(s.teachers)
	for gi, gr := range groups {
		grade := fmt.Sprintf("%02d", gr.year)
		cid := fmt.Sprintf("%s-c%02d%s", s.id, gr.year, lower(gr.subj.code))
		if !courses[cid] {
			courses[cid] = true
			code := upper(gr.subj.code) + fmt.Sprint(gr.year)
			c := roster.Course{SourcedID: cid, Title: fmt.Sprintf("Year %d %s", gr.year, gr.subj.name), Code: code,
				SchoolYear: g.year, Org: s.id, Grades: []string{grade}, Subjects: []string{gr.subj.name}}
			if gr.typ == roster.ClassScheduled {
				c.SubjectCodes = []string{upper(gr.subj.code)}
			}
			g.r.Courses = append(g.r.Courses, c)
		}
		cls := roster.Class{SourcedID: gr.id, Title: gr.title, Type: gr.typ, Code: gr.code, Course: cid, School: s.id,
			Terms: []string{g.year}, Grades: []string{grade}, Periods: gr.periods, Location: gr.location}
		if gr.typ == roster.ClassScheduled {
			cls.Terms = g.terms
			cls.Subjects = []string{gr.subj.name}
			cls.SubjectCodes = []string{upper(gr.subj.code)}
		}
		g.r.Classes = append(g.r.Classes, cls)

		// Teachers first: a form tutor, or a subject teacher plus, for one
		// group in eight, a second (job-share) teacher.
		var primary int
		ok := false
		if gr.typ == roster.ClassHomeroom {
			if len(tutors) > 0 {
				primary, tutors, ok = tutors[0], tutors[1:], true
			} else {
				primary, ok = s.teacherFor("", -1)
			}
		} else {
			primary, ok = s.teacherFor(gr.subj.name, -1)
		}
		if ok {
			s.enrolment(gr.id, primary, roster.RoleTeacher, true, 0)
			if gr.typ == roster.ClassScheduled && gi%8 == 0 {
				if second, ok := s.teacherFor(gr.subj.name, primary); ok {
					s.enrolment(gr.id, second, roster.RoleTeacher, false, 0)
				}
			}
		}
		members := slices.Clone(gr.members)
		slices.Sort(members)
		for _, p := range members {
			var begin roster.Date
			if s.late[p] {
				begin = lateStart
			}
			s.enrolment(gr.id, p, roster.RoleStudent, false, begin)
		}
	}
}

func (s *school) enrolment(class string, person int, role roster.Role, primary bool, begin roster.Date) {
	s.enrol++
	s.g.r.Enrollments = append(s.g.r.Enrollments, roster.Enrollment{
		SourcedID: fmt.Sprintf("%s-e%06d", s.id, s.enrol), Class: class, School: s.id,
		Person: s.g.r.People[person].SourcedID, Role: role, Primary: primary, Begin: begin,
	})
}
