// Package logging makes the composer's structured logger (log/slog): JSON
// lines when standard error is not a terminal (for log collectors), text
// at a terminal (for people). Every record logged with a request's context
// carries that request's id and, when tracing is on, its trace id; and no
// attribute whose name says it is a secret is ever printed.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// New returns a logger writing to w. format is "json", "text" or "" (text
// when w is a terminal, else JSON).
func New(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	if format == "" {
		format = "json"
		if IsTerminal(w) {
			format = "text"
		}
	}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(contextHandler{h})
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying a request's id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries ("" for none).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// TraceID, when set (by the tracing setup), returns the trace id of the
// span ctx carries, "" for none.
var TraceID func(ctx context.Context) string

// contextHandler adds the request id and trace id of the record's context.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if TraceID != nil {
			if id := TraceID(ctx); id != "" {
				r.AddAttrs(slog.String("trace_id", id))
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// secretWords are the parts of attribute names whose values are never
// printed.
var secretWords = []string{"password", "secret", "token", "authorization", "api_key", "apikey", "credential"}

// Redacted replaces a secret's value.
const Redacted = "[secret]"

func redact(_ []string, a slog.Attr) slog.Attr {
	key := strings.ToLower(a.Key)
	for _, w := range secretWords {
		if strings.Contains(key, w) {
			return slog.String(a.Key, Redacted)
		}
	}
	return a
}
