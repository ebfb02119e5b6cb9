package gateway

import (
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/tuskcompose/composer/internal/h1head"
)

// removeHopHeaders removes the hop-by-hop headers of h, those that its
// Connection header names too.
func removeHopHeaders(h http.Header) { removeFields(h, hopHeader) }

// removeFields removes, in one pass over h's few fields (less than a
// delete of each name, each a hash), those whose canonical names drop
// reports (Connection among them), and then those h's Connection header
// named.
func removeFields(h http.Header, drop func(name string) bool) {
	var connection []string
	for name, vv := range h {
		if name == "Connection" {
			connection = vv
		}
		if drop(name) {
			delete(h, name)
		}
	}
	for _, f := range connection {
		for name := range strings.SplitSeq(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
}

// hopHeader reports whether a canonical header name is one of the
// headers of one connection, not of the request or the answer (RFC 9110
// 7.6.1), as httputil.ReverseProxy removes them.
func hopHeader(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// plain reports whether a request takes the lean path: HTTP/1 without an
// upgrade (a WebSocket, h2c) and not gRPC.
func plain(r *http.Request) bool {
	return r.ProtoMajor == 1 && len(r.Header["Upgrade"]) == 0
}

// forward sends a plain request through rt and copies the answer to w:
// what httputil.ReverseProxy does for such a request (hop-by-hop headers
// removed both ways, X-Forwarded-For, -Host and -Proto set and the
// client's own removed, no default User-Agent added, a streamed answer
// flushed as it comes, trailers passed, an answer cut half-way is cut for
// the client too), with fewer copies: the client's header becomes the
// forwarded one (outboundHeader), and the answer's header values are
// handed over, not copied.
func (u *Upstream) forward(w http.ResponseWriter, r *http.Request, rt http.RoundTripper) {
	a := new(forwardAlloc)
	h := outboundHeader(r, a.vals[:])
	out := &a.req
	*out = *r
	out.Header = h
	out.RequestURI, out.Close = "", false
	if out.ContentLength == 0 {
		out.Body = nil // no body: none is sent, and a retry has none to replay
	}
	if u.StripPrefix != "" || u.AddPrefix != "" {
		p := strings.TrimPrefix(r.URL.EscapedPath(), u.StripPrefix)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		p = u.AddPrefix + p
		nu := *r.URL
		nu.RawPath = p
		nu.Path, _ = url.PathUnescape(p)
		out.URL = &nu
	}
	u.RequestHeaders.apply(h)

	var resp *http.Response
	var err error
	if lt, ok := rt.(*tries); ok && u.ResponseHeaders == nil {
		resp, err = lt.roundTrip(out, true) // (the answer's lines may go on as they are: no header made of them)
	} else {
		resp, err = rt.RoundTrip(out)
	}
	if err != nil {
		u.writeError(w, r, err)
		return
	}
	defer resp.Body.Close()
	if u.sendHead(w, resp) {
		if err := copyAnswer(w, resp.Body, false); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	answerHeader(resp)
	removeHopHeaders(resp.Header)
	u.ResponseHeaders.apply(resp.Header)
	// The answer's fields go after those the writer has already (the
	// request id, CORS): those few are looked up in the answer's header,
	// not each of its fields in theirs.
	dst := w.Header()
	for k, prior := range dst {
		if vv, ok := resp.Header[k]; ok {
			resp.Header[k] = append(prior, vv...)
		}
	}
	for k, vv := range resp.Header {
		dst[k] = vv
	}
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		dst["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	stream := streamed(resp)
	if stream {
		// The headers go at once, as ReverseProxy sends them: a client
		// of a stream sees its answer begin, and an answer cut before its
		// first byte of body is cut for the client too, not dropped.
		http.NewResponseController(w).Flush()
	}
	if err := copyAnswer(w, resp.Body, stream); err != nil {
		panic(http.ErrAbortHandler) // cut half-way: the client must not take it for whole
	}
	for k, vv := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
}

// sendHead writes the answer's head with its header lines as the
// instance sent them (but those of its connection's own fields), after
// the writer's own fields, and reports whether it did: when the
// transport kept the lines (h1client's plain answers), they are tidy and
// its Connection field names no other field of the answer, the answer
// has a length, no trailers and is not a stream, no response rules
// apply, and the writer under w takes lines (h1server's). The client gets the fields that the header map's way
// gives it, but in the instance's order after the writer's, without a
// parse into the map, a merge and a pass to write it out again. The
// writers around h1server's (gin's) pass the head through untouched: none
// of the composer's changes an answer on its way.
func (u *Upstream) sendHead(w http.ResponseWriter, resp *http.Response) bool {
	if u.ResponseHeaders != nil || len(resp.Trailer) > 0 || resp.ContentLength == -1 {
		return false
	}
	lines, has, ok := answerLines(resp.Body)
	if !ok || has&h1head.HasContentLength == 0 || has&(h1head.HasTransferEncoding|h1head.HasNamedHop|h1head.Untidy) != 0 ||
		has&h1head.HasContentType != 0 && eventStream(h1head.Value(lines, "Content-Type")) {
		return false
	}
	if has&(h1head.HasConnection|h1head.HasHopByHop) != 0 {
		lines = h1head.EndToEnd(lines) // (Connection: keep-alive, Keep-Alive: timeout=5, as Node's and nginx's)
	}
	lw, ok := linesWriterOf(w)
	if !ok || !lw.WriteHeaderLines(resp.StatusCode, lines, resp.ContentLength, has) {
		return false
	}
	w.WriteHeader(resp.StatusCode) // (for the writers around it, which note the status; the head is written)
	return true
}

// linesWriter is a ResponseWriter that takes an answer's header lines as
// they are (h1server's WriteHeaderLines).
type linesWriter interface {
	WriteHeaderLines(code int, lines string, contentLength int64, has h1head.Has) bool
}

// linesWriterOf finds the linesWriter under w, through the writers that
// unwrap (as http.ResponseController does).
func linesWriterOf(w http.ResponseWriter) (linesWriter, bool) {
	for {
		switch ww := w.(type) {
		case linesWriter:
			return ww, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = ww.Unwrap()
		default:
			return nil, false
		}
	}
}

// answerHeader is resp's header, made from its lines when the transport
// left it out (h1client's RoundTripLines) and it is needed after all.
func answerHeader(resp *http.Response) http.Header {
	if resp.Header == nil {
		lines, _, _ := answerLines(resp.Body)
		if resp.Header, _, _ = h1head.FieldsText(lines, nil); resp.Header == nil {
			resp.Header = make(http.Header)
		}
	}
	return resp.Header
}

// answerLines are the header lines an answer came with, and what h1head
// saw of them, when its body is the transport's that kept them
// (h1client's), under the tries' bodies (which unwrap).
func answerLines(body io.ReadCloser) (string, h1head.Has, bool) {
	for {
		switch b := body.(type) {
		case interface{ Head() (string, h1head.Has) }:
			lines, has := b.Head()
			return lines, has, lines != ""
		case interface{ Unwrap() io.ReadCloser }:
			body = b.Unwrap()
		default:
			return "", 0, false
		}
	}
}

// forwardAlloc is what forward makes, in one allocation: its copy of the
// request, and the values of the headers the gateway sets.
type forwardAlloc struct {
	req  http.Request
	vals [5]string
}

// outboundHeader makes the client's header the one a plain request is
// forwarded with, in place (a copy would cost a map per request, and
// nothing reads the client's header after the request is forwarded but
// its request id, which stays): without the hop-by-hop fields (but "TE:
// trailers", which is end to end: gRPC-Web, others), without Forwarded
// and the client's X-Forwarded-*, with the gateway's X-Forwarded-For,
// -Host and -Proto and an empty User-Agent where the client sent none
// (not Go's default). vals (5 of them) holds the values it sets.
func outboundHeader(r *http.Request, vals []string) http.Header {
	if r.Header == nil {
		r.Header = make(http.Header, 4)
	}
	h := r.Header
	te := h["Te"] // (the client's, before the deletes)
	removeFields(h, notForwarded)
	// The values the gateway sets share one array, each slice of it full
	// (an append to one copies it rather than overwrite the next).
	for _, v := range te {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(token), "trailers") {
				vals[4] = "trailers"
				h["Te"] = vals[4:5:5]
			}
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		vals[0] = ip
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	vals[1] = r.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if r.TLS != nil {
		vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = vals[2:3:3]
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = vals[3:4:4] // "": not Go's default
	}
	return h
}

// notForwarded reports whether a field of the client's is not forwarded:
// a hop-by-hop one, or one of the forwarding headers the gateway sets
// itself.
func notForwarded(name string) bool {
	switch name {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return hopHeader(name)
}

// streamed reports whether an answer is flushed as it comes: one of
// unknown length, or server-sent events (as ReverseProxy does).
func streamed(resp *http.Response) bool {
	if resp.ContentLength == -1 {
		return true
	}
	ct := ""
	if vv := resp.Header["Content-Type"]; len(vv) > 0 {
		ct = vv[0]
	}
	return eventStream(ct)
}

// eventStream reports whether a media type is server-sent events'.
func eventStream(ct string) bool {
	if len(ct) < len("text/event-stream") || !strings.EqualFold(ct[:len("text/event-stream")], "text/event-stream") {
		return false // (most answers: no media type to parse)
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/event-stream"
}

// copyAnswer copies an answer's body with a pooled buffer, flushing after
// each write when it is streamed. A failed read of the body is an error
// (io.EOF is the end); a failed write to the client ends the copy (the
// client is gone).
func copyAnswer(w http.ResponseWriter, body io.Reader, flush bool) error {
	pooled := buffers.get()
	defer buffers.put(pooled)
	buf := *pooled
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			if flush {
				rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
