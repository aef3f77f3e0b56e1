package iotda

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Batch task pages can weigh far more than what a client needs of them: every task of a
// ListBatchTasks page and the task of every ShowBatchTask page echo the task's targets (up to
// 30,000 device ids, about 4 MB) and its document. pageScanner reads a page as it arrives and
// keeps only the members asked for, skipping the rest byte by byte, so that the memory a page
// costs does not depend on what it echoes: a skipped value of any size or depth costs nothing,
// and a kept string is kept only up to a bound. The bytes read are bounded too, so that a page
// that never ends is an error rather than a wait.

// errPageTooLarge is returned once a page exceeds its byte bound.
var errPageTooLarge = errors.New("the page exceeds its size bound")

// pageScanner is a forward-only JSON reader over one response body.
type pageScanner struct {
	r     *bufio.Reader
	read  int64
	limit int64
	// depth is the nesting of the value being skipped, for the bound below; stack holds its
	// open brackets.
	stack []byte
}

// maxSkipDepth bounds the nesting of a skipped value. A page nested deeper is not an IoTDA
// answer; the bound keeps the bracket stack small.
const maxSkipDepth = 10000

func newPageScanner(r io.Reader, limit int64) *pageScanner {
	return &pageScanner{r: bufio.NewReaderSize(r, 32<<10), limit: limit}
}

// byte reads one byte, counting it against the limit.
func (s *pageScanner) byte() (byte, error) {
	if s.read >= s.limit {
		return 0, fmt.Errorf("%w (%d bytes)", errPageTooLarge, s.limit)
	}
	b, err := s.r.ReadByte()
	switch {
	case err == nil:
		s.read++
	case errors.Is(err, io.EOF):
		err = &bodyReadError{err: io.ErrUnexpectedEOF}
	default:
		err = &bodyReadError{err: err}
	}
	return b, err
}

// next returns the next byte that is not white space.
func (s *pageScanner) next() (byte, error) {
	for {
		b, err := s.byte()
		if err != nil || (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
			return b, err
		}
	}
}

func (s *pageScanner) unread() {
	_ = s.r.UnreadByte() // Always after a successful byte().
	s.read--
}

// expect reads the next non-space byte and checks that it is want.
func (s *pageScanner) expect(want byte) error {
	b, err := s.next()
	if err != nil {
		return err
	}
	if b != want {
		return fmt.Errorf("invalid JSON: %q where %q was expected at byte %d", b, want, s.read)
	}
	return nil
}

// end checks that nothing but white space follows the value read.
func (s *pageScanner) end() error {
	_, err := s.next()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("invalid JSON: data after the end of the answer at byte %d", s.read)
}

// object reads an object, calling member for each key; member must read or skip the value.
// A null stands for an absent object.
func (s *pageScanner) object(member func(key string) error) error {
	b, err := s.next()
	if err != nil {
		return err
	}
	if b == 'n' {
		return s.literal("ull")
	}
	if b != '{' {
		return fmt.Errorf("invalid JSON: %q where an object was expected at byte %d", b, s.read)
	}
	if b, err = s.next(); err != nil || b == '}' {
		return err
	}
	s.unread()
	for {
		key, _, err := s.str(256)
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		b, err := s.next()
		switch {
		case err != nil:
			return err
		case b == '}':
			return nil
		case b != ',':
			return fmt.Errorf("invalid JSON: %q in an object at byte %d", b, s.read)
		}
	}
}

// array reads an array, calling elem for each element; elem must read or skip it. A null
// stands for an absent array.
func (s *pageScanner) array(elem func() error) error {
	b, err := s.next()
	if err != nil {
		return err
	}
	if b == 'n' {
		return s.literal("ull")
	}
	if b != '[' {
		return fmt.Errorf("invalid JSON: %q where an array was expected at byte %d", b, s.read)
	}
	if b, err = s.next(); err != nil || b == ']' {
		return err
	}
	s.unread()
	for {
		if err := elem(); err != nil {
			return err
		}
		b, err := s.next()
		switch {
		case err != nil:
			return err
		case b == ']':
			return nil
		case b != ',':
			return fmt.Errorf("invalid JSON: %q in an array at byte %d", b, s.read)
		}
	}
}

// str reads a string and returns its value when its JSON text fits in limit bytes; fits is false
// (and the value "") for a longer one, which is read to its end all the same. A value that is
// not a string is an error.
func (s *pageScanner) str(limit int) (value string, fits bool, err error) {
	if err := s.expect('"'); err != nil {
		return "", false, err
	}
	raw := make([]byte, 1, 32)
	raw[0] = '"'
	fits = true
	escapes := false
	err = s.skipString(func(chunk []byte) {
		if !fits {
			return
		}
		if len(raw)+len(chunk) > limit {
			fits, raw = false, nil
			return
		}
		raw = append(raw, chunk...)
		escapes = escapes || bytes.IndexByte(chunk, '\\') >= 0
	})
	if err != nil || !fits {
		return "", false, err
	}
	if inner := raw[1 : len(raw)-1]; !escapes && utf8.Valid(inner) {
		return string(inner), true, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return "", false, fmt.Errorf("invalid JSON string at byte %d: %w", s.read, err)
	}
	return value, true, nil
}

// text reads a string, or null (""), keeping at most limit bytes of its JSON text; a longer
// string is cut, marked with "…". Any other value is kept as its JSON text, within the same
// bound (a platform sending an object where a string belongs is shown rather than lost).
func (s *pageScanner) text(limit int) (string, error) {
	b, err := s.next()
	if err != nil {
		return "", err
	}
	s.unread()
	if b == '"' {
		v, fits, err := s.str(limit)
		if err == nil && !fits {
			v = "…(longer than the provider keeps)"
		}
		return v, err
	}
	raw, fits, err := s.raw(limit)
	switch {
	case err != nil:
		return "", err
	case !fits:
		return "…(longer than the provider keeps)", nil
	case bytes.Equal(raw, []byte("null")):
		return "", nil
	}
	return string(raw), nil
}

// raw reads any value and returns its JSON text when it fits in limit bytes (fits is false for
// a longer one, which is read to its end all the same).
func (s *pageScanner) raw(limit int) (json.RawMessage, bool, error) {
	var buf []byte
	fits := true
	keep := func(chunk []byte) {
		if !fits {
			return
		}
		if len(buf)+len(chunk) > limit {
			fits, buf = false, nil
			return
		}
		buf = append(buf, chunk...)
	}
	if err := s.value(keep); err != nil {
		return nil, false, err
	}
	if !fits {
		return nil, false, nil
	}
	return buf, true, nil
}

// skip reads any value and keeps nothing of it.
func (s *pageScanner) skip() error { return s.value(nil) }

// value reads one value of any kind, handing its bytes (outside white space between tokens)
// to keep, when not nil. It checks brackets and strings; literals and numbers only by their
// bytes.
func (s *pageScanner) value(keep func([]byte)) error {
	s.stack = s.stack[:0]
	one := []byte{0}
	for {
		b, err := s.next()
		if err != nil {
			return err
		}
		if keep != nil {
			one[0] = b
			keep(one)
		}
		switch b {
		case '{', '[':
			if len(s.stack) >= maxSkipDepth {
				return fmt.Errorf("invalid answer: nested more than %d levels at byte %d", maxSkipDepth, s.read)
			}
			s.stack = append(s.stack, b)
			continue // A value follows, or the closing bracket.
		case '}', ']':
			if len(s.stack) == 0 || (b == '}') != (s.stack[len(s.stack)-1] == '{') {
				return fmt.Errorf("invalid JSON: unbalanced %q at byte %d", b, s.read)
			}
			s.stack = s.stack[:len(s.stack)-1]
		case '"':
			if err := s.skipString(keep); err != nil {
				return err
			}
		case ',', ':':
			if len(s.stack) == 0 {
				return fmt.Errorf("invalid JSON: %q at byte %d", b, s.read)
			}
			continue
		default:
			if err := s.scalar(keep); err != nil {
				return err
			}
		}
		if len(s.stack) == 0 {
			return nil
		}
	}
}

// skipString reads the rest of a string whose opening quote was read, closing quote
// included, handing keep (when not nil) the bytes in chunks. It scans what is buffered at
// once rather than byte by byte: the targets a page echoes are most of its bytes.
func (s *pageScanner) skipString(keep func([]byte)) error {
	escaped := false
	for {
		if s.read >= s.limit {
			return fmt.Errorf("%w (%d bytes)", errPageTooLarge, s.limit)
		}
		n := min(max(s.r.Buffered(), 1), int(min(s.limit-s.read, int64(s.r.Size()))))
		chunk, err := s.r.Peek(n)
		if len(chunk) == 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return &bodyReadError{err: err}
		}
		end := -1
		for i, b := range chunk {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				end = i + 1
			case b < 0x20:
				return fmt.Errorf("invalid JSON: a control character in a string at byte %d", s.read+int64(i))
			}
			if end >= 0 {
				break
			}
		}
		used := len(chunk)
		if end >= 0 {
			used = end
		}
		if keep != nil {
			keep(chunk[:used])
		}
		_, _ = s.r.Discard(used) // Peeked, so always there.
		s.read += int64(used)
		if end >= 0 {
			return nil
		}
	}
}

// scalar reads the rest of a number or literal whose first byte was read.
func (s *pageScanner) scalar(keep func([]byte)) error {
	one := []byte{0}
	for {
		b, err := s.byte()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // The answer is a bare scalar; end() decides.
		}
		if err != nil {
			return err
		}
		switch {
		case b >= '0' && b <= '9', b >= 'a' && b <= 'z', b == '-', b == '+', b == '.', b == 'E':
			if keep != nil {
				one[0] = b
				keep(one)
			}
		default:
			s.unread()
			return nil
		}
	}
}

// literal reads the rest of a literal whose first byte was read.
func (s *pageScanner) literal(rest string) error {
	for i := range len(rest) {
		b, err := s.byte()
		if err != nil {
			return err
		}
		if b != rest[i] {
			return fmt.Errorf("invalid JSON: unexpected %q at byte %d", b, s.read)
		}
	}
	return nil
}

// int reads a number that must be an integer, or null (0).
func (s *pageScanner) int() (int64, error) {
	raw, _, err := s.raw(32)
	if err != nil {
		return 0, err
	}
	if bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("invalid answer: %s is not an integer at byte %d", raw, s.read)
	}
	return n, nil
}

// strings reads an array of strings (or null), keeping each when its text fits in limit bytes
// and calling each for it; count is the number of elements.
func (s *pageScanner) strings(limit int, each func(string)) (count int, err error) {
	err = s.array(func() error {
		count++
		if each == nil {
			if err := s.expect('"'); err != nil {
				return err
			}
			return s.skipString(nil)
		}
		v, fits, err := s.str(limit)
		if err == nil && fits {
			each(v)
		}
		return err
	})
	return count, err
}
