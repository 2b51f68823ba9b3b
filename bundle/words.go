package bundle

import "strings"

// DigestWordCount is how many bytes of a digest DigestWords renders.
const DigestWordCount = 8

// DigestWords renders the first DigestWordCount bytes of d as words, one
// word per byte, from the Bytewords table of BCR-2020-012 ("able acid also
// ..."). It is a read-aloud check (64 bits) so two people can confirm they
// look at the same digest; it is not a binding — officers sign the full
// digest, and the hex form is shown beside it.
func DigestWords(d Digest) string {
	w := make([]string, DigestWordCount)
	for i := range w {
		w[i] = bytewords[d[i]]
	}
	return strings.Join(w, " ")
}

// bytewords is the 256-word table of BCR-2020-012 (Blockchain Commons
// Bytewords), indexed by byte value.
var bytewords = [256]string{
	"able", "acid", "also", "apex", "aqua", "arch", "atom", "aunt", // 0x00
	"away", "axis", "back", "bald", "barn", "belt", "beta", "bias", // 0x08
	"blue", "body", "brag", "brew", "bulb", "buzz", "calm", "cash", // 0x10
	"cats", "chef", "city", "claw", "code", "cola", "cook", "cost", // 0x18
	"crux", "curl", "cusp", "cyan", "dark", "data", "days", "deli", // 0x20
	"dice", "diet", "door", "down", "draw", "drop", "drum", "dull", // 0x28
	"duty", "each", "easy", "echo", "edge", "epic", "even", "exam", // 0x30
	"exit", "eyes", "fact", "fair", "fern", "figs", "film", "fish", // 0x38
	"fizz", "flap", "flew", "flux", "foxy", "free", "frog", "fuel", // 0x40
	"fund", "gala", "game", "gear", "gems", "gift", "girl", "glow", // 0x48
	"good", "gray", "grim", "guru", "gush", "gyro", "half", "hang", // 0x50
	"hard", "hawk", "heat", "help", "high", "hill", "holy", "hope", // 0x58
	"horn", "huts", "iced", "idea", "idle", "inch", "inky", "into", // 0x60
	"iris", "iron", "item", "jade", "jazz", "join", "jolt", "jowl", // 0x68
	"judo", "jugs", "jump", "junk", "jury", "keep", "keno", "kept", // 0x70
	"keys", "kick", "kiln", "king", "kite", "kiwi", "knob", "lamb", // 0x78
	"lava", "lazy", "leaf", "legs", "liar", "limp", "lion", "list", // 0x80
	"logo", "loud", "love", "luau", "luck", "lung", "main", "many", // 0x88
	"math", "maze", "memo", "menu", "meow", "mild", "mint", "miss", // 0x90
	"monk", "nail", "navy", "need", "news", "next", "noon", "note", // 0x98
	"numb", "obey", "oboe", "omit", "onyx", "open", "oval", "owls", // 0xa0
	"paid", "part", "peck", "play", "plus", "poem", "pool", "pose", // 0xa8
	"puff", "puma", "purr", "quad", "quiz", "race", "ramp", "real", // 0xb0
	"redo", "rich", "road", "rock", "roof", "ruby", "ruin", "runs", // 0xb8
	"rust", "safe", "saga", "scar", "sets", "silk", "skew", "slot", // 0xc0
	"soap", "solo", "song", "stub", "surf", "swan", "taco", "task", // 0xc8
	"taxi", "tent", "tied", "time", "tiny", "toil", "tomb", "toys", // 0xd0
	"trip", "tuna", "twin", "ugly", "undo", "unit", "urge", "user", // 0xd8
	"vast", "very", "veto", "vial", "vibe", "view", "visa", "void", // 0xe0
	"vows", "wall", "wand", "warm", "wasp", "wave", "waxy", "webs", // 0xe8
	"what", "when", "whiz", "wolf", "work", "yank", "yawn", "yell", // 0xf0
	"yoga", "yurt", "zaps", "zero", "zest", "zinc", "zone", "zoom", // 0xf8
}
