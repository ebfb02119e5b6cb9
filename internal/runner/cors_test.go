package runner

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// awaitPromise makes Evaluate wait for the promise the expression gives.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// TestCORSInABrowser: a page on another origin calls the gateway from
// headless Chromium with a method and a header that need a preflight.
// The gateway answers the preflight for the allowed origin (the instance
// never sees an OPTIONS) and the call goes through with its exposed
// header; from an origin it does not allow, the browser refuses.
func TestCORSInABrowser(t *testing.T) {
	browser := chromium(t)
	var mu sync.Mutex
	var methods []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		w.Header().Set("X-Order-Id", "42")
		io.WriteString(w, "saved")
	}))
	t.Cleanup(api.Close)
	page := `<!doctype html><html><body><script>
async function call(gateway) {
  try {
    const r = await fetch(gateway + "/api/orders", {method: "PUT", headers: {"X-Shop-Client": "web", "Content-Type": "application/json"}, body: "{}"});
    return r.status + " " + (await r.text()) + " " + r.headers.get("X-Order-Id");
  } catch (e) { return "refused"; }
}
</script></body></html>`
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, page) }))
	t.Cleanup(allowed.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, page) }))
	t.Cleanup(other.Close)
	p := startPlatform(t, fmt.Sprintf(`
[services]
api { kind: "http", instances: [%q], routes: ["/api/*path"], strip_prefix: true,
  cors { allow_origins: [%q], allow_methods: ["GET", "PUT"], allow_headers: ["X-Shop-Client", "Content-Type"], expose_headers: ["X-Order-Id"], max_age: "1m" } }
`, api.URL, allowed.URL))
	gw := "http://" + p.r.GatewayAddr()

	profile, err := os.MkdirTemp("", "composer-cors-chromium")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx := browserContext(t, browser, profile)
	var fromAllowed, fromOther string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(allowed.URL),
		chromedp.Evaluate(fmt.Sprintf("call(%q)", gw), &fromAllowed, awaitPromise),
		chromedp.Navigate(other.URL),
		chromedp.Evaluate(fmt.Sprintf("call(%q)", gw), &fromOther, awaitPromise),
	); err != nil {
		t.Fatal(err)
	}
	if fromAllowed != "200 saved 42" {
		t.Errorf("from the allowed origin: %q", fromAllowed)
	}
	if fromOther != "refused" {
		t.Errorf("from another origin: %q", fromOther)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(methods) != "[PUT]" {
		t.Errorf("the instance saw %v: the preflights are the gateway's to answer, and the refused call never goes", methods)
	}
}
