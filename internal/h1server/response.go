package h1server

import (
	"bufio"
	"errors"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuskcompose/composer/internal/h1head"
)

// response is the http.ResponseWriter of one request. The handler's
// goroutine calls it; the one exception is writeContinue, called by
// whoever reads the request's body, under continueMu.
//
// The answer's head goes into the connection's buffer when it is
// committed: at the first write that does not fit in pending when the
// length is unknown, at the first write otherwise, at Flush, or when the
// handler returns. The buffer is sent at Flush, when it fills, when the
// handler returns, and at the write that completes a declared length. An answer whose handler returns before pending is full
// gets a Content-Length; a longer one of unknown length is chunked
// (HTTP/1.1) or ends with the connection (HTTP/1.0), as net/http does.
type response struct {
	c       *conn
	req     *http.Request
	reqConn string       // the request's Connection field, as the client sent it
	body    *requestBody // nil: the request has none
	header  http.Header

	wroteHeader   bool  // status decided, the head snapshot taken
	committed     bool  // head written to the connection's buffer
	status        int   //
	contentLength int64 // what the handler declared, or computed; -1 unknown
	written       int64 // body bytes the handler wrote
	chunked       bool
	closeAfter    bool        // the connection closes after this answer
	fullDuplex    bool        // the handler asked to read the body after writing
	done          atomic.Bool // the handler has returned (read by writes from goroutines it left)
	werr          error

	// The snapshot of the handler's headers at WriteHeader: head holds
	// them written out, but for those the framing decides on at commit.
	head     []byte
	hasType  bool
	hasCE    bool
	hasDate  bool
	te       string
	cl       string
	conn     []string
	trailers []string // names the Trailer header declared

	pending []byte // body written before the head is committed, length unknown

	canContinue atomic.Bool // 100 Continue may still be written
	continueMu  sync.Mutex
}

var errAfterReturn = errors.New("h1server: write after the handler returned")

// pendingMax is how much of a body of unknown length waits for the
// handler's end, to be sent with a Content-Length (as net/http's 2 KiB).
const pendingMax = 2048

// Header is the answer's header map. The map is the connection's, cleared
// and given to its next request's handler (conn.answerHeader): a handler
// must not keep it once it has returned. A goroutine it left that asks
// for it then gets a map of its own, which no answer reads.
func (w *response) Header() http.Header {
	if w.done.Load() {
		return make(http.Header)
	}
	return w.header
}

func (w *response) WriteHeader(code int) {
	if w.c.hijacked || w.wroteHeader || w.done.Load() {
		return
	}
	w.writeHeader(code)
}

// writeHeader is WriteHeader without its checks, for finish.
func (w *response) writeHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An informational answer goes at once; the final one follows.
		bw := w.c.bw
		writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
		for _, k := range sortedKeys(w.header) {
			if k != "Content-Length" && k != "Transfer-Encoding" {
				writeField(bw, k, w.header[k])
			}
		}
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.disableContinue()
	w.wroteHeader, w.status = true, code
	w.snapshot()
}

// WriteHeaderLines is WriteHeader(code) for an answer whose fields come,
// besides the handler's header, as a block of header lines written out
// already: a proxy's answer from its instance, sent on as it came,
// without a pass through a header map and back. The handler's fields go
// first, as WriteHeader writes them, then the block as it is. block must
// be lines that h1head reads and finds tidy (no Untidy in has, what
// h1head.Fields saw of them), with one Content-Length, of contentLength,
// and no field of the connection (Connection, Transfer-Encoding, another
// hop-by-hop one); code a final status with a body. It reports false,
// having done nothing, when the head is written already or the handler's
// header has a field of the framing that WriteHeader would act on
// (Content-Length, Transfer-Encoding, Connection, Trailer): the caller
// then puts its fields in the header and calls WriteHeader. Only the
// handler's goroutine calls it.
func (w *response) WriteHeaderLines(code int, block string, contentLength int64, has h1head.Has) bool {
	if w.c.hijacked || w.wroteHeader || w.done.Load() || code < 200 || code > 999 || !bodyAllowed(code) || contentLength < 0 {
		return false
	}
	w.status = code
	w.snapshot() // (its pass over the header finds the framing's fields: no lookup of each)
	if w.cl != "" || w.te != "" || w.conn != nil || w.trailers != nil {
		// What snapshot took is undone: nothing else had set it.
		w.status, w.contentLength, w.cl, w.te, w.conn, w.trailers = 0, -1, "", "", nil, nil
		w.hasType, w.hasCE, w.hasDate, w.head = false, false, false, nil
		return false
	}
	w.disableContinue()
	w.wroteHeader = true
	w.head = append(w.head, block...)
	w.c.headBuf = w.head
	w.contentLength = contentLength // (its field is in the block: commit writes none)
	w.hasType = w.hasType || has&h1head.HasContentType != 0
	w.hasCE = w.hasCE || has&h1head.HasContentEncoding != 0
	w.hasDate = w.hasDate || has&h1head.HasDate != 0
	return true
}

// snapshot writes out the handler's headers as they are now (later
// changes are not sent, as net/http) but those the framing needs: those
// it keeps aside.
func (w *response) snapshot() {
	suppressType := w.status == http.StatusNotModified
	fields := w.c.fields[:0]
	// One pass over the header, in map order; the fields are then written
	// sorted by name, as net/http writes them.
	for k, vv := range w.header {
		switch k {
		case "Content-Length":
			if len(vv) > 0 {
				if n, err := strconv.ParseInt(strings.TrimSpace(vv[0]), 10, 64); err == nil && n >= 0 {
					w.contentLength, w.cl = n, vv[0]
				}
			}
			continue
		case "Transfer-Encoding":
			if len(vv) > 0 {
				w.te = vv[0]
			}
			continue
		case "Connection":
			w.conn = vv
			continue
		case "Content-Type":
			w.hasType = true
			if suppressType {
				continue
			}
		case "Content-Encoding":
			w.hasCE = len(vv) > 0 && vv[0] != ""
		case "Date":
			w.hasDate = true
		case "Trailer":
			for _, v := range vv {
				for f := range strings.SplitSeq(v, ",") {
					if f = strings.TrimSpace(f); f != "" {
						w.trailers = append(w.trailers, http.CanonicalHeaderKey(f))
					}
				}
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		fields = append(fields, field{k, vv})
	}
	sortFields(fields)
	head := w.c.headBuf[:0]
	for _, f := range fields {
		head = appendField(head, f.name, f.values)
	}
	clear(fields) // (the pool keeps no handler's header values alive)
	w.head, w.c.headBuf, w.c.fields = head, head, fields[:0]
}

// field is one header field and its values.
type field struct {
	name   string
	values []string
}

// sortFields sorts fields by name: by insertion when they are few (most
// answers have a handful, which slices.SortFunc sorts for several times
// the comparisons' cost), else with slices.SortFunc.
func sortFields(fields []field) {
	if len(fields) > 12 {
		slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
		return
	}
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].name < fields[j-1].name; j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if w.done.Load() {
		return 0, errAfterReturn
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		if w.contentLength == -1 && len(w.pending)+len(p) <= pendingMax {
			if w.pending == nil {
				w.pending = w.c.pendingBuf[:0]
			}
			w.pending = append(w.pending, p...)
			w.c.pendingBuf = w.pending[:0]
			return len(p), nil
		}
		first := p
		if len(w.pending) > 0 {
			first = w.pending
		}
		w.commit(false, first)
		if len(w.pending) > 0 {
			w.writeBody(w.pending)
			w.pending = nil
		}
	}
	w.writeBody(p)
	if w.werr == nil && w.written == w.contentLength {
		// The declared length is all written: the answer is whole, and
		// goes now, not once the handler and its middleware have
		// returned (their counting and logging is no part of the
		// client's wait).
		w.werr = w.c.bw.Flush()
	}
	if w.werr != nil {
		return 0, w.werr
	}
	return len(p), nil
}

func (w *response) writeBody(p []byte) {
	if len(p) == 0 || w.req.Method == "HEAD" || w.werr != nil {
		return // (an empty chunk would end the body)
	}
	bw := w.c.bw
	if w.chunked {
		writeHex(bw, len(p))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, w.werr = bw.WriteString("\r\n")
		return
	}
	_, w.werr = bw.Write(p)
}

// Flush sends what the handler wrote so far (http.Flusher).
func (w *response) Flush() {
	w.FlushError()
}

// FlushError is Flush with its error (for http.ResponseController).
func (w *response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if w.done.Load() {
		return errAfterReturn // (the connection may be another request's by now)
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false, w.pending)
		w.writeBody(w.pending)
		w.pending = nil
	}
	if err := w.c.bw.Flush(); err != nil && w.werr == nil {
		w.werr = err
	}
	return w.werr
}

// Hijack hands the connection to the handler (http.Hijacker): the server
// no longer reads, writes or closes it, and Shutdown does not wait for it
// (as net/http's).
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.done.Load() {
		return nil, nil, errAfterReturn
	}
	if w.body == nil {
		w.c.watch.disarm()
	}
	if w.committed {
		w.c.bw.Flush()
	}
	w.c.hijacked = true
	w.c.srv.forget(w.c)
	return w.c.nc, bufio.NewReadWriter(w.c.br, w.c.bw), nil
}

// SetReadDeadline and SetWriteDeadline are the connection's (for
// http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// EnableFullDuplex lets the handler read the request's body after it has
// begun to answer (for http.ResponseController): the body is not drained
// at the first write.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// writeContinue writes `100 Continue`, once, unless the answer has begun.
// Whoever reads the body calls it, before its first read.
func (w *response) writeContinue() {
	if !w.canContinue.Load() {
		return
	}
	w.continueMu.Lock()
	defer w.continueMu.Unlock()
	if w.canContinue.Load() {
		w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		w.c.bw.Flush()
		w.canContinue.Store(false)
	}
}

// disableContinue makes sure no `100 Continue` follows the answer's head.
func (w *response) disableContinue() {
	if w.canContinue.Load() {
		w.continueMu.Lock()
		w.canContinue.Store(false)
		w.continueMu.Unlock()
	}
}

// commit writes the answer's head into the connection's buffer, its
// framing decided as net/http's server decides it: final when the handler
// has returned, p the first bytes of the body (for a length and the
// Content-Type's sniffing).
func (w *response) commit(final bool, p []byte) {
	w.committed = true
	req := w.req
	isHEAD := req.Method == "HEAD"
	is11 := req.ProtoAtLeast(1, 1)
	bodyOK := bodyAllowed(w.status)
	hasTE := w.te != ""
	cl := w.cl
	if final && len(w.trailers) == 0 && !hasTE && bodyOK && w.contentLength == -1 && (!isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		cl = strconv.Itoa(len(p))
	}
	hasCL := w.contentLength != -1
	connHdr := strings.Join(w.conn, ", ")
	keepAlive10 := ""
	reqConn := w.reqConn
	wants10KeepAlive := req.ProtoMajor == 1 && req.ProtoMinor == 0 && hasToken(reqConn, "keep-alive")
	if wants10KeepAlive && (isHEAD || hasCL || !bodyOK) {
		if w.conn == nil {
			keepAlive10 = "keep-alive"
		}
	} else if !is11 || req.Close || hasToken(reqConn, "close") {
		w.closeAfter = true
	}
	if hasToken(connHdr, "close") || w.c.srv.closing.Load() {
		w.closeAfter = true // (no keep-alive once Shutdown has begun)
	}
	tooBig := false
	if w.body != nil && !w.closeAfter && !w.fullDuplex {
		if w.body.expect {
			w.body.mu.Lock()
			w.closeAfter = !w.body.sawEOF
			w.body.mu.Unlock()
		} else if !w.body.drain() {
			w.closeAfter, tooBig = true, true
		}
	}
	var sniffed string
	if bodyOK && !w.hasCE && !w.hasType && !hasTE && len(p) > 0 {
		sniffed = http.DetectContentType(p)
	}
	if hasCL && hasTE && w.te != "identity" {
		hasCL, cl = false, ""
	}
	te := w.te
	switch {
	case isHEAD || !bodyOK || hasCL:
		te = ""
	case is11:
		if te == "identity" {
			te = ""
			w.closeAfter = true
		} else {
			w.chunked = true
			if te == "chunked" {
				te = ""
			}
		}
	default:
		w.closeAfter = true
		te = ""
	}
	if w.chunked || !bodyOK {
		cl = ""
	}
	if tooBig || w.closeAfter && !hasToken(connHdr, "close") && !(w.status == http.StatusSwitchingProtocols && get(w.header, "Upgrade") != "") {
		connHdr = ""
		if is11 {
			connHdr = "close"
		}
	}

	bw := w.c.bw
	writeStatusLine(bw, is11, w.status)
	bw.Write(w.head)
	if cl != "" {
		bw.WriteString("Content-Length: ")
		bw.WriteString(cl)
		bw.WriteString("\r\n")
	}
	if te != "" {
		bw.WriteString("Transfer-Encoding: ")
		bw.WriteString(te)
		bw.WriteString("\r\n")
	}
	if connHdr != "" {
		bw.WriteString("Connection: ")
		bw.WriteString(connHdr)
		bw.WriteString("\r\n")
	} else if keepAlive10 != "" {
		bw.WriteString("Connection: keep-alive\r\n")
	}
	if sniffed != "" {
		bw.WriteString("Content-Type: ")
		bw.WriteString(sniffed)
		bw.WriteString("\r\n")
	}
	if !w.hasDate {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
}

// finish ends the answer once the handler has returned, and reports
// whether the connection can carry another request.
func (w *response) finish() bool {
	// Done before anything of the end goes out: a goroutine the handler
	// left that writes once the client has the answer finds it done.
	w.done.Store(true)
	if !w.wroteHeader && !w.c.hijacked {
		w.writeHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true, w.pending)
		w.writeBody(w.pending)
		w.pending = nil
	}
	bw := w.c.bw
	if w.chunked && w.werr == nil {
		bw.WriteString("0\r\n")
		for _, k := range w.trailerNames() {
			writeField(bw, k, w.header[k])
		}
		for _, k := range sortedKeys(w.header) {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				writeField(bw, http.CanonicalHeaderKey(name), w.header[k])
			}
		}
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return false
	}
	if w.werr != nil || w.closeAfter {
		return false
	}
	if w.req.Method != "HEAD" && w.contentLength != -1 && bodyAllowed(w.status) && w.contentLength != w.written {
		return false // the handler wrote less than it declared: the client waits for the rest
	}
	if w.body != nil && !w.body.drain() {
		return false
	}
	return true
}

// trailerNames are the declared trailers the handler set.
func (w *response) trailerNames() []string {
	var names []string
	for _, k := range w.trailers {
		if vv, ok := w.header[k]; ok && len(vv) > 0 && k != "Content-Length" && k != "Transfer-Encoding" && k != "Trailer" {
			names = append(names, k)
		}
	}
	return names
}

// writeHex writes n in hexadecimal (a chunk's size) without a buffer
// that escapes.
func writeHex(bw *bufio.Writer, n int) {
	shift := 0
	for n>>shift >= 16 {
		shift += 4
	}
	for ; shift >= 0; shift -= 4 {
		bw.WriteByte("0123456789abcdef"[n>>shift&0xf])
	}
}

// get is h's first value of the canonical name k (as net/http's server
// reads the headers it acts on: without canonicalizing the name again).
func get(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// bodyAllowed reports whether an answer with this status may have a body.
func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}

func writeStatusLine(bw *bufio.Writer, is11 bool, code int) {
	if is11 {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	bw.WriteString(statusLines[code]) // code is 100-999 (WriteHeader checks)
}

// statusLines are the status lines' ends, "200 OK\r\n", by code, made
// once: the code's digits and its text (net/http's words).
var statusLines = func() []string {
	lines := make([]string, 1000)
	for code := 100; code < 1000; code++ {
		text := http.StatusText(code)
		if text == "" {
			text = "status code " + strconv.Itoa(code)
		}
		lines[code] = strconv.Itoa(code) + " " + text + "\r\n"
	}
	return lines
}()

// sortedKeys are h's names, sorted.
func sortedKeys(h http.Header) []string { return slices.Sorted(maps.Keys(h)) }

// appendField appends one header field per value, each value's line
// breaks replaced by spaces and its ends trimmed (as net/http writes
// them); a name that is not a valid field name is dropped.
func appendField(b []byte, k string, vv []string) []byte {
	if !h1head.Token(k) {
		return b
	}
	for _, v := range vv {
		b = h1head.AppendField(b, k, v)
	}
	return b
}

func writeField(bw *bufio.Writer, k string, vv []string) {
	bw.Write(appendField(bw.AvailableBuffer(), k, vv))
}

// dateCache is the Date header's value of the current second.
var dateCache atomic.Pointer[dateValue]

type dateValue struct {
	sec int64
	b   []byte
}

// httpDate is the Date header's value for now, made once a second.
func httpDate() []byte {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.b
	}
	d := &dateValue{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}
