package sample

import (
	"slices"
	"strings"
)

// Name pools, weighted by repetition: common names appear several times so
// that duplicate full names occur as they do in real schools. The pools mix
// the UK's most common names with names that break naive code: diacritics
// (Zoë, Siobhán, Łukasz), apostrophes (O'Brien, D'Souza) and hyphens
// (Anne-Marie, Owusu-Ansah).
var (
	givenGirls = []string{
		"Olivia", "Olivia", "Olivia", "Amelia", "Amelia", "Isla", "Isla", "Ava", "Ava", "Ivy", "Freya", "Lily", "Lily",
		"Florence", "Mia", "Willow", "Rosie", "Sophia", "Isabella", "Grace", "Grace", "Daisy", "Sienna", "Poppy", "Elsie",
		"Emily", "Emily", "Ella", "Evie", "Maya", "Aisha", "Fatima", "Zainab", "Amira", "Priya", "Ananya", "Hannah",
		"Zoë", "Chloé", "Renée", "Siobhán", "Aoife", "Niamh", "Órla", "Léa", "Inès", "Zofia", "Małgorzata", "Núria",
		"Ayşe", "Çağla", "Anne-Marie", "Lily-Rose", "Ella-Mae", "Mary-Kate", "Nuala", "Saoirse", "Chiamaka", "Ngozi",
	}
	givenBoys = []string{
		"Oliver", "Oliver", "Oliver", "George", "George", "Muhammad", "Muhammad", "Noah", "Noah", "Arthur", "Leo", "Harry",
		"Harry", "Oscar", "Archie", "Henry", "Theodore", "Freddie", "Jack", "Jack", "Charlie", "Theo", "Alfie", "Jacob",
		"Thomas", "Finley", "Arlo", "Yusuf", "Ibrahim", "Arjun", "Ravi", "Kwame", "Kofi", "Tomasz", "Mateusz", "Dylan",
		"Seán", "Eoghan", "Ciarán", "Maël", "Björn", "Søren", "Łukasz", "Jiří", "José", "Ángel", "Mehmet", "Oğuz",
		"Jean-Luc", "Jean-Paul", "D'Arcy", "Rhys", "Dafydd", "Iestyn", "Callum", "Euan",
	}
	family = []string{
		"Smith", "Smith", "Smith", "Jones", "Jones", "Jones", "Taylor", "Taylor", "Brown", "Brown", "Williams", "Williams",
		"Wilson", "Johnson", "Davies", "Davies", "Patel", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker",
		"White", "Roberts", "Green", "Hall", "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin",
		"Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris",
		"Khan", "Khan", "Ahmed", "Ali", "Begum", "Hussain", "Singh", "Kaur", "Nowak", "Kowalski", "Mensah", "Okafor",
		"O'Brien", "O'Connor", "O'Neill", "O'Sullivan", "D'Souza", "N'Diaye", "Ní Bhriain", "Ó Súilleabháin", "Müller",
		"Schröder", "Lefèvre", "Gonçalves", "Núñez", "Wiśniewski", "Dvořák", "Søndergaard", "Öztürk", "Şahin",
		"Smith-Jones", "Hughes-Whitaker", "Owusu-Ansah", "Taylor-Brown", "Ferreira-Santos", "Lloyd-Evans", "ap Gruffydd",
	}
	schoolNames = []string{
		"Oakfield Academy", "Ashcombe School", "Riverside High School", "St Aidan's Church of England Academy",
		"Kingsmead School", "Harbour View School", "Bishop Wand Catholic School", "Westbrook Academy",
		"Meadowhead School", "Thornbury High School", "Our Lady's Catholic College", "Castle Hill Academy",
	}
	towns = []string{"Ashby", "Brampton", "Calder", "Dunmore", "Elmstead", "Fairhaven", "Greywell", "Hartfield"}
)

// fold maps the letters the name pools use to ASCII, for usernames (UPNs
// allow only A–Z a–z 0–9 and a few symbols). It is deliberately small:
// rostersync's planners own real username rules; this only keeps sample
// usernames plausible.
var fold = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ã", "a", "å", "a", "ä", "a", "æ", "ae", "ç", "c", "č", "c", "ď", "d",
	"é", "e", "è", "e", "ê", "e", "ë", "e", "ě", "e", "ğ", "g", "í", "i", "ì", "i", "î", "i", "ï", "i", "ı", "i",
	"ł", "l", "ń", "n", "ñ", "n", "ó", "o", "ò", "o", "ô", "o", "õ", "o", "ö", "o", "ø", "o", "ř", "r", "ś", "s",
	"ş", "s", "š", "s", "ß", "ss", "ú", "u", "ù", "u", "û", "u", "ü", "u", "ý", "y", "ž", "z", "ź", "z", "ż", "z",
	"Á", "A", "Ç", "C", "É", "E", "Í", "I", "Ł", "L", "Ñ", "N", "Ó", "O", "Ö", "O", "Ø", "O", "Ś", "S", "Ş", "S",
	"Ú", "U", "Ü", "U", "Ž", "Z",
)

// nativeName is a name as the MIS holds it, in its own script, with the
// romanised spelling the family uses on paper (passport, previous
// school), which the sample MIS makes its usernames from.
type nativeName struct{ native, roman string }

// familyName is a family name's forms for a man and a woman; languages
// without a feminine form give the same name twice.
type familyName struct{ male, female nativeName }

// script is a pool of names written in one non-Latin script.
type script struct {
	girls, boys []nativeName
	family      []familyName
}

func same(native, roman string) familyName {
	return familyName{nativeName{native, roman}, nativeName{native, roman}}
}

// nonLatin are the scripts of Options.NonLatinShare: Cyrillic (Russian,
// Ukrainian and Bulgarian names), Greek and Chinese, the ones UK schools
// most often receive in their MIS unromanised.
var nonLatin = []script{
	{
		girls: []nativeName{{"Анастасия", "Anastasia"}, {"Мария", "Maria"}, {"Ольга", "Olga"}, {"Юлия", "Yulia"},
			{"Дарья", "Daria"}, {"Екатерина", "Ekaterina"}, {"Софія", "Sofiia"}, {"Олена", "Olena"}, {"Десислава", "Desislava"}},
		boys: []nativeName{{"Иван", "Ivan"}, {"Алексей", "Aleksei"}, {"Дмитрий", "Dmitrii"}, {"Михаил", "Mikhail"},
			{"Андрій", "Andrii"}, {"Тарас", "Taras"}, {"Георги", "Georgi"}, {"Сергей", "Sergei"}},
		family: []familyName{
			{nativeName{"Иванов", "Ivanov"}, nativeName{"Иванова", "Ivanova"}},
			{nativeName{"Петров", "Petrov"}, nativeName{"Петрова", "Petrova"}},
			{nativeName{"Смирнов", "Smirnov"}, nativeName{"Смирнова", "Smirnova"}},
			{nativeName{"Соколов", "Sokolov"}, nativeName{"Соколова", "Sokolova"}},
			{nativeName{"Кузнецов", "Kuznetsov"}, nativeName{"Кузнецова", "Kuznetsova"}},
			{nativeName{"Георгиев", "Georgiev"}, nativeName{"Георгиева", "Georgieva"}},
			same("Шевченко", "Shevchenko"), same("Коваленко", "Kovalenko"), same("Бондаренко", "Bondarenko"),
		},
	},
	{
		girls: []nativeName{{"Μαρία", "Maria"}, {"Ελένη", "Eleni"}, {"Κατερίνα", "Katerina"}, {"Σοφία", "Sofia"}, {"Χριστίνα", "Christina"}},
		boys:  []nativeName{{"Γιώργος", "Giorgos"}, {"Δημήτρης", "Dimitris"}, {"Νίκος", "Nikos"}, {"Κώστας", "Kostas"}, {"Γιάννης", "Giannis"}},
		family: []familyName{
			{nativeName{"Παπαδόπουλος", "Papadopoulos"}, nativeName{"Παπαδοπούλου", "Papadopoulou"}},
			{nativeName{"Παπαδάκης", "Papadakis"}, nativeName{"Παπαδάκη", "Papadaki"}},
			same("Οικονόμου", "Oikonomou"), same("Γεωργίου", "Georgiou"), same("Νικολάου", "Nikolaou"), same("Βασιλείου", "Vasileiou"),
		},
	},
	{
		girls: []nativeName{{"静怡", "Jingyi"}, {"欣怡", "Xinyi"}, {"梓涵", "Zihan"}, {"雨桐", "Yutong"}, {"思琪", "Siqi"}},
		boys:  []nativeName{{"浩然", "Haoran"}, {"子轩", "Zixuan"}, {"宇航", "Yuhang"}, {"俊杰", "Junjie"}, {"伟", "Wei"}},
		family: []familyName{same("王", "Wang"), same("李", "Li"), same("张", "Zhang"), same("刘", "Liu"), same("陈", "Chen"),
			same("黄", "Huang"), same("林", "Lin"), same("欧阳", "Ouyang")},
	},
}

// romanised maps every native name of nonLatin to its roman spelling.
var romanised = func() map[string]string {
	m := map[string]string{}
	for _, sc := range nonLatin {
		for _, n := range slices.Concat(sc.girls, sc.boys) {
			m[n.native] = n.roman
		}
		for _, f := range sc.family {
			m[f.male.native], m[f.female.native] = f.male.roman, f.female.roman
		}
	}
	return m
}()

// pickName picks a person's given and family names. With
// Options.NonLatinShare set, that share of people have a name written in
// Cyrillic, Greek or Chinese; at zero no extra random number is drawn, so
// rosters made before the option existed come out unchanged.
func (g *gen) pickName(girl bool) (given, fam string) {
	if share := g.o.NonLatinShare; share > 0 && g.rng.intn(1_000_000) < int(share*1_000_000) {
		sc := nonLatin[g.rng.intn(len(nonLatin))]
		pool := sc.boys
		if girl {
			pool = sc.girls
		}
		f := sc.family[g.rng.intn(len(sc.family))]
		if girl {
			return pool[g.rng.intn(len(pool))].native, f.female.native
		}
		return pool[g.rng.intn(len(pool))].native, f.male.native
	}
	given = g.rng.pick(givenBoys)
	if girl {
		given = g.rng.pick(givenGirls)
	}
	return given, g.rng.pick(family)
}

// asciiLower folds s to lower-case ASCII letters and digits only; a name
// of nonLatin gives its roman spelling.
func asciiLower(s string) string {
	if roman, ok := romanised[s]; ok {
		s = roman
	}
	s = fold.Replace(s)
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
