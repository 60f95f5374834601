package proxyproto_test

import (
	"errors"
	"fmt"

	"github.com/sycamore-go/sycamore/internal/proxyproto"
)

// A server reads the header off the front of what a balancer sends, and hands
// the rest to the application.
func ExampleParse() {
	received := []byte("PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\nGET / HTTP/1.1\r\n")
	for _, k := range []int{10, len(received)} {
		h, n, err := proxyproto.Parse(received[:k])
		switch {
		case errors.Is(err, proxyproto.ErrIncomplete):
			fmt.Printf("%d bytes: read more\n", k)
		case err != nil:
			fmt.Println("close the connection:", err)
		default:
			fmt.Printf("%d bytes: %s from %v to %v, then %q\n", k, h.Network, h.Source, h.Dest, received[n:k])
		}
	}
	_, _, err := proxyproto.Parse([]byte("GET / HTTP/1.1\r\n"))
	fmt.Println(err)
	// Output:
	// 10 bytes: read more
	// 61 bytes: tcp4 from 192.0.2.1:51234 to 198.51.100.7:443, then "GET / HTTP/1.1\r\n"
	// proxyproto: invalid header: first byte 0x47 starts neither signature
}

// A test builds the header a balancer would send.
func ExampleAppendV2() {
	h := proxyproto.Header{Local: true}
	b, err := proxyproto.AppendV2(nil, h)
	fmt.Printf("% x %v\n", b, err)
	// Output:
	// 0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 20 00 00 00 <nil>
}
