package sample

import "strings"

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

// asciiLower folds s to lower-case ASCII letters and digits only.
func asciiLower(s string) string {
	s = fold.Replace(s)
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
