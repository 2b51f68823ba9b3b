package fountain

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// xoshiro256 is Xoshiro256** seeded from the SHA-256 of a seed, the digest
// split into four big-endian words, as the multi-part UR guide specifies.
// It must match the reference implementations bit for bit: the fountain
// parts a sender emits are a function of it.
type xoshiro256 struct{ s [4]uint64 }

func newXoshiro(seed []byte) *xoshiro256 {
	d := sha256.Sum256(seed)
	var x xoshiro256
	for i := range x.s {
		x.s[i] = binary.BigEndian.Uint64(d[i*8:])
	}
	return &x
}

func (x *xoshiro256) next() uint64 {
	s := &x.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

// nextDouble returns next() / 2^64 in [0, 1], computed in float64 exactly as
// the reference does (the uint64 is rounded to float64 first).
func (x *xoshiro256) nextDouble() float64 {
	return float64(x.next()) / 18446744073709551616.0
}

// nextInt returns an integer in [low, high].
func (x *xoshiro256) nextInt(low, high int) int {
	return int(x.nextDouble()*float64(high-low+1)) + low
}

func (x *xoshiro256) nextData(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(x.nextInt(0, 255))
	}
	return out
}

// sampler is Vose's alias method over a discrete distribution, built in the
// same order as the reference so that its choices are reproducible.
type sampler struct {
	probs   []float64
	aliases []int
}

func newSampler(weights []float64) *sampler {
	n := len(weights)
	var sum float64
	for _, w := range weights {
		sum += w
	}
	p := make([]float64, n)
	for i, w := range weights {
		p[i] = w * float64(n) / sum
	}
	var small, large []int
	for i := n - 1; i >= 0; i-- {
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	s := &sampler{probs: make([]float64, n), aliases: make([]int, n)}
	for len(small) > 0 && len(large) > 0 {
		a := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		large = large[:len(large)-1]
		s.probs[a] = p[a]
		s.aliases[a] = g
		p[g] += p[a] - 1
		if p[g] < 1 {
			small = append(small, g)
		} else {
			large = append(large, g)
		}
	}
	for _, i := range large {
		s.probs[i] = 1
	}
	for _, i := range small {
		s.probs[i] = 1
	}
	return s
}

func (s *sampler) next(x *xoshiro256) int {
	r1, r2 := x.nextDouble(), x.nextDouble()
	i := int(float64(len(s.probs)) * r1)
	if r2 < s.probs[i] {
		return i
	}
	return s.aliases[i]
}

// shuffled returns a permutation of items drawn with x (reference order).
func shuffled(items []int, x *xoshiro256) []int {
	remaining := append([]int(nil), items...)
	out := make([]int, 0, len(items))
	for len(remaining) > 0 {
		i := x.nextInt(0, len(remaining)-1)
		out = append(out, remaining[i])
		remaining = append(remaining[:i], remaining[i+1:]...)
	}
	return out
}

// chooseDegree picks how many fragments a mixed part combines: degree d in
// [1, seqLen] with probability proportional to 1/d.
func chooseDegree(seqLen int, x *xoshiro256) int {
	return degreeSampler(seqLen).next(x) + 1
}

func degreeSampler(seqLen int) *sampler {
	w := make([]float64, seqLen)
	for i := range w {
		w[i] = 1 / float64(i+1)
	}
	return newSampler(w)
}

// chooser picks the fragments of each part of one message. It caches the
// degree distribution, which depends only on seqLen.
type chooser struct {
	seqLen   int
	checksum uint32
	degrees  *sampler // built on first mixed part
}

// choose returns the fragment indexes (0-based) mixed into part seqNum:
// the pure fragment seqNum-1 for seqNum <= seqLen, otherwise a
// pseudo-random set seeded by SHA-256(seqNum ‖ checksum), both big-endian:
// a degree from the 1/d distribution, then the first degree entries of a
// shuffle of all indexes. Only the first degree draws of the shuffle are
// made (the rest cannot change them), which keeps a part O(degree·seqLen).
// The result is in the order drawn, not sorted.
func (c *chooser) choose(seqNum uint32) []int {
	if int64(seqNum) <= int64(c.seqLen) {
		return []int{int(seqNum) - 1}
	}
	var seed [8]byte
	binary.BigEndian.PutUint32(seed[0:], seqNum)
	binary.BigEndian.PutUint32(seed[4:], c.checksum)
	x := newXoshiro(seed[:])
	if c.degrees == nil {
		c.degrees = degreeSampler(c.seqLen)
	}
	degree := c.degrees.next(x) + 1
	// remaining is the reference's shrinking list of indexes; a Fenwick
	// tree finds its i-th entry in O(log n) instead of O(n) slice removal.
	remaining := newOrderTree(c.seqLen)
	out := make([]int, 0, degree)
	for len(out) < degree {
		i := x.nextInt(0, c.seqLen-len(out)-1)
		out = append(out, remaining.takeNth(i))
	}
	return out
}

// orderTree is a Fenwick tree over the set {0, …, n-1} that removes the
// element of a given rank.
type orderTree struct {
	tree []int32 // 1-based
	top  int     // highest power of two <= n
}

func newOrderTree(n int) *orderTree {
	t := &orderTree{tree: make([]int32, n+1), top: 1}
	for i := 1; i <= n; i++ {
		t.tree[i] = int32(i & -i) // every element present once
	}
	for t.top*2 <= n {
		t.top *= 2
	}
	return t
}

// takeNth removes and returns the element of 0-based rank k among those left.
func (t *orderTree) takeNth(k int) int {
	pos, rem := 0, int32(k+1)
	for step := t.top; step > 0; step /= 2 {
		if next := pos + step; next < len(t.tree) && t.tree[next] < rem {
			pos = next
			rem -= t.tree[next]
		}
	}
	// pos+1 is the 1-based position of the element.
	for i := pos + 1; i < len(t.tree); i += i & -i {
		t.tree[i]--
	}
	return pos
}
