// Package credentials makes new accounts' initial passwords and keeps them,
// encrypted, until they are handed over once through the export. Passwords
// never reach a plan, a run record, the run log or any log line.
package credentials

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// Character classes for strong passwords. Look-alikes (0/O, 1/l/I) are
// left out: these passwords are read off a printed sheet.
const (
	upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	lower   = "abcdefghijkmnopqrstuvwxyz"
	digits  = "23456789"
	symbols = "!#$%*+-=?@^_"
)

// strongLength gives about 95 bits of entropy with these classes.
const strongLength = 16

// words are short, common, unambiguous words for young pupils' passwords.
var words = strings.Fields(`apple badge beach berry bird boat bread brick brush cake camel candle
cloud clover comet coral crown daisy dragon drum eagle earth feather fern flute forest fox frog
garden giraffe grape harbor honey island jelly kite koala lemon lion lizard mango maple meadow
melon moon mountain nest ocean olive orange otter owl panda parrot peach pebble pepper piano
pirate planet plum pony puffin quilt rabbit rainbow river robin rocket sail salmon shell ship
silver snail spider spoon star stone sugar sun swan tiger tomato train tulip turtle violet
walrus whale willow window zebra`)

// Generate makes a password of a kind: "strong" (16 random characters of
// four classes) or "words" (two capitalised words and two digits, easy to
// type for young pupils, still meeting Entra's three-of-four-classes rule).
func Generate(kind string) (string, error) {
	switch kind {
	case "", "strong":
		return strong()
	case "words":
		return wordy()
	}
	return "", fmt.Errorf("password kind %q: want strong or words", kind)
}

func pick(set string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, err
	}
	return set[n.Int64()], nil
}

func strong() (string, error) {
	all := upper + lower + digits + symbols
	b := make([]byte, strongLength)
	// One of each class first, so every password passes the policy.
	for i, set := range []string{upper, lower, digits, symbols} {
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	for i := 4; i < len(b); i++ {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		b[i] = c
	}
	// Shuffle so the classes' positions are not fixed.
	for i := len(b) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		b[i], b[j.Int64()] = b[j.Int64()], b[i]
	}
	return string(b), nil
}

func wordy() (string, error) {
	var b strings.Builder
	for i := range 2 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		if err != nil {
			return "", err
		}
		w := words[n.Int64()]
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		if i == 0 {
			for range 2 {
				d, err := pick(digits)
				if err != nil {
					return "", err
				}
				b.WriteByte(d)
			}
		}
	}
	return b.String(), nil
}
