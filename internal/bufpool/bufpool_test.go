package bufpool

import (
	"bytes"
	"testing"

	"github.com/sycamore-go/sycamore/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyMain(m) }

func TestGetReturnsEmptyBufferOfTheSmallestClassThatFits(t *testing.T) {
	cases := []struct{ n, wantCap int }{
		{0, 512}, {1, 512}, {512, 512}, {513, 1024}, {4096, 4096}, {4097, 8192},
		{4 << 20, 4 << 20}, {4<<20 + 1, 4<<20 + 1}, // above the largest class: exact, unpooled
	}
	for _, c := range cases {
		b := Get(c.n)
		if len(*b) != 0 || cap(*b) != c.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want len 0 cap %d", c.n, len(*b), cap(*b), c.wantCap)
		}
		Put(b)
	}
}

func TestPutThenGetHandsBackAnEmptyBuffer(t *testing.T) {
	for range 100 { // sync.Pool may drop a Put buffer; whatever Get returns must be empty
		b := Get(1000)
		*b = append(*b, "left over"...)
		Put(b)
		if g := Get(1000); len(*g) != 0 || cap(*g) != 1024 {
			t.Fatalf("Get after Put: len %d cap %d, want len 0 cap 1024", len(*g), cap(*g))
		}
	}
}

func TestPutDropsBuffersThatAreNotAClassSize(t *testing.T) {
	odd := make([]byte, 0, 1000)
	Put(&odd) // must not enter the 512 or 1024 pool, where Get would hand out cap 1000
	for range 100 {
		if b := Get(600); cap(*b) != 1024 {
			t.Fatalf("Get(600) after Put of a cap-1000 buffer has cap %d, want 1024", cap(*b))
		}
	}
}

func TestGrowKeepsContentsAndMovesUpAClass(t *testing.T) {
	b := Get(10)
	*b = append(*b, bytes.Repeat([]byte("x"), 500)...)
	same := Grow(b, 12)
	if same != b {
		t.Error("Grow with enough room returned a new buffer")
	}
	g := Grow(b, 100) // 600 needed: at least twice the old cap
	if cap(*g) != 1024 || !bytes.Equal(*g, bytes.Repeat([]byte("x"), 500)) {
		t.Errorf("Grow: cap %d len %d, want cap 1024 and the 500 bytes kept", cap(*g), len(*g))
	}
}
