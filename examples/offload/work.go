package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The work functions run on a worker (or on the loop with -workers 0). Each
// returns the whole answer line, so the loop side only writes it.

// maxRounds caps HASH's n: a million rounds of SHA-256 take a few hundred
// milliseconds, slow enough to show the point, bounded enough that one client
// cannot hold a worker for long.
const maxRounds = 1_000_000

// hashSeed is what HASH starts from.
var hashSeed = []byte("sycamore offload example")

// parseRounds reads HASH's argument.
func parseRounds(arg string) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > maxRounds {
		return 0, fmt.Errorf("HASH wants a count from 1 to %d", maxRounds)
	}
	return n, nil
}

// hashRounds applies SHA-256 n times to hashSeed and answers the hex digest.
func hashRounds(n int) []byte {
	sum := sha256.Sum256(hashSeed)
	for range n - 1 {
		sum = sha256.Sum256(sum[:])
	}
	return answer(hex.AppendEncode(nil, sum[:]))
}

// checkName accepts plain file names only: no path separator, no "..", and
// nothing hidden, so FILE cannot leave the directory or list dotfiles.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return errors.New("FILE wants a plain file name")
	}
	return nil
}

// hashFile answers "<size> <sha256 hex>" for dir/name. The file is opened
// through os.Root, so a symbolic link cannot lead out of dir either, and only
// regular files are read: a FIFO would block the worker forever.
func hashFile(dir, name string) []byte {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return errorLine("cannot open the directory")
	}
	defer root.Close()
	info, err := root.Stat(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errorLine("no such file")
	case err != nil:
		return errorLine("cannot stat the file")
	case !info.Mode().IsRegular():
		return errorLine("not a regular file")
	}
	f, err := root.Open(name)
	if err != nil {
		return errorLine("cannot open the file")
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return errorLine("cannot read the file")
	}
	line := strconv.AppendInt(nil, size, 10)
	line = append(line, ' ')
	return answer(hex.AppendEncode(line, h.Sum(nil)))
}

// answer ends a line.
func answer(line []byte) []byte { return append(line, '\n') }

// errorLine is the answer to a request that failed.
func errorLine(reason string) []byte { return []byte("ERR " + reason + "\n") }
