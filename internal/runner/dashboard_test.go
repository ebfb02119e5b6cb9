package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns Debian's Chromium, which CI installs (.ci/run).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs it")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	return ""
}

// browserContext is a headless Chromium's context, closed when the test
// ends, for at most 90 seconds, with the flags this machine's closed
// network needs.
func browserContext(t *testing.T, browser, profile string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1400, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// TestDashboardInABrowser opens the dashboard in headless Chromium, sees
// a breaker open when its upstream is killed and a failed reload's
// diagnostic at its file, line and column, and saves a screenshot
// (dashboard.png in the test's artifact directory: go test -artifacts).
func TestDashboardInABrowser(t *testing.T) {
	browser := chromium(t)
	billing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "invoice") }))
	billingURL := billing.URL
	extra := fmt.Sprintf(`
[services]
billing { kind: "http", instances: [%q], routes: ["/billing/*path"] }
users { routes: ["/users", "/users/:id", "/shop.v1.Users/*method"] }
quotes { kind: "http", discovery: "registry", routes: ["/quotes"] }
[health_checks]
billing { interval: "1h" }
`, billingURL)
	p := startPlatform(t, extra)
	gw, admin := "http://"+p.r.GatewayAddr(), "http://"+p.r.AdminAddr()
	createUser(t, gw, "ada")
	call(t, "GET", gw+"/billing/1", "")
	quotes := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a quote") }))
	defer quotes.Close()
	qhost, qport, _ := strings.Cut(strings.TrimPrefix(quotes.URL, "http://"), ":")
	if status, body := call(t, "PUT", admin+"/v1/agent/service/register",
		fmt.Sprintf(`{"ID":"quotes-1","Name":"quotes","Address":%q,"Port":%s,"Check":{"TTL":"1h","Status":"passing"}}`, qhost, qport)); status != 200 {
		t.Fatalf("register quotes: %d %s", status, body)
	}

	// Chromium's helper processes may still write to its profile after
	// the browser is gone: the profile is removed without complaint.
	profile, err := os.MkdirTemp("", "composer-dashboard-chromium")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx := browserContext(t, browser, profile)

	if err := chromedp.Run(ctx,
		chromedp.Navigate(admin+"/dashboard/"),
		chromedp.WaitVisible(`g.node[data-id="svc_billing"][data-state="healthy"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`g.edge[data-to="svc_billing"][data-breaker-state="closed"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`g.node[data-id="svc_users"][data-protocol="grpc"]`, chromedp.ByQuery), // it serves shop.v1.Users
		chromedp.WaitVisible(`circle.instance[data-instance="`+billingURL+`"][data-health="healthy"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`circle.instance.registry[data-instance="`+quotes.URL+`"][data-health="healthy"]`, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("the dashboard with a healthy platform: %v", err)
	}

	// The upstream dies: calls fail, and billing's breaker opens.
	billing.Close()
	for i := 0; i < 3; i++ {
		call(t, "GET", gw+"/billing/1", "")
	}
	if err := chromedp.Run(ctx,
		chromedp.WaitVisible(`g.edge[data-to="svc_billing"][data-breaker-state="open"]`, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("the open breaker on the dashboard: %v", err)
	}

	// A failed reload shows its diagnostic at its position.
	src, _ := os.ReadFile(p.file)
	os.WriteFile(p.file, append(src, []byte("\n[services]\nbroken { kind: \"http\", instances: [\"nope\"] }\n")...), 0o644)
	if res := p.r.Reload(); res.OK {
		t.Fatal("the broken file reloaded")
	}
	var diag string
	if err := chromedp.Run(ctx,
		chromedp.WaitVisible(`li.reload.failed pre`, chromedp.ByQuery),
		chromedp.Text(`li.reload.failed pre`, &diag, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("the failed reload on the dashboard: %v", err)
	}
	if !strings.Contains(diag, "platform.tsk:") || !strings.Contains(diag, `instance "nope" is not an http:// or https:// URL`) {
		t.Errorf("the failed reload's diagnostic: %q", diag)
	}

	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if dest := os.Getenv("DASHBOARD_SCREENSHOT"); dest != "" { // for the README
		os.WriteFile(dest, png, 0o644)
	}
	t.Logf("screenshot: %s", shot)
}
