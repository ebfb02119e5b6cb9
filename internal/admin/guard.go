package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"net"
	"net/http"
	"strings"
)

// CookieName is the dashboard's session cookie: an HMAC of the token,
// never the token itself.
const CookieName = "composer_admin"

// guard is the admin API's door. With a token, every request needs
// `Authorization: Bearer TOKEN` (compared in constant time) or the
// dashboard's cookie, but /healthz and /readyz, which orchestrators'
// probes call without one; a request without either is answered 401
// with a JSON error (the dashboard's pages: its login page). pprof
// answers loopback clients only, token or not. Without a token the admin
// address is loopback (composer.Validate refuses another).
func guard(token string, next http.Handler) http.Handler {
	session := ""
	if token != "" {
		mac := hmac.New(sha256.New, []byte(token))
		mac.Write([]byte("composer dashboard session"))
		session = hex.EncodeToString(mac.Sum(nil))
	}
	allowed := func(r *http.Request) bool {
		if token == "" {
			return true
		}
		if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(auth), []byte(token)) == 1 {
			return true
		}
		c, err := r.Cookie(CookieName)
		return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(session)) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/debug/pprof/") && !loopbackClient(r):
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the profiler answers on loopback only"})
			return
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
		case r.URL.Path == "/dashboard/login" && token != "":
			login(w, r, token, session)
			return
		case !allowed(r):
			if strings.HasPrefix(r.URL.Path, "/dashboard") && r.Method == http.MethodGet {
				http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="composer admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "the admin API needs Authorization: Bearer <admin_token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackClient reports whether a request comes from a loopback address.
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>composer: log in</title>
<style>body{font-family:sans-serif;margin:4em auto;max-width:22em}.error{color:#b00}</style></head>
<body><main class="login"><h1>composer</h1>
<form method="post" action="/dashboard/login">
<label>admin token <input type="password" name="token" autofocus autocomplete="current-password"></label>
<button type="submit">log in</button>{{if .}}<p class="error">{{.}}</p>{{end}}
</form></main></body></html>
`))

// login is the dashboard's login: GET shows the form, POST checks the
// token and sets the session cookie (HttpOnly, SameSite=Strict, so that
// no other site's page can act with it).
func login(w http.ResponseWriter, r *http.Request, token, session string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method != http.MethodPost {
		loginPage.Execute(w, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(token)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, "That is not the admin token.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
}
