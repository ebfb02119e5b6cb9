package composer

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Graph is a platform drawn as nodes and edges: the gateway, the
// services, the event topics; routes, calls (each through its breaker),
// dependencies and event routes. `composer graph` prints it as Mermaid or
// DOT, and the dashboard draws it.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Node is a gateway, a service or a topic.
type Node struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Kind  string `json:"kind"` // gateway | builtin | http | process | topic | endpoint
	// Protocol is "grpc" for a service spoken to over gRPC or serving a
	// gRPC route (shop.v1.Users), "h2c" for plain HTTP/2; empty else.
	Protocol string `json:"protocol,omitempty"`
}

// Edge is a route, a call, a dependency or an event route.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Kind  string `json:"kind"` // route | call | depends | event
	Label string `json:"label"`
}

// isGRPCRoute reports whether a route serves a gRPC service:
// /package.Service/*method.
func isGRPCRoute(route string) bool {
	svc, rest, ok := strings.Cut(strings.TrimPrefix(route, "/"), "/")
	return ok && strings.Contains(svc, ".") && strings.HasPrefix(rest, "*")
}

// GraphOf draws a platform. Its order is the file's sorted names, so the
// same platform always gives the same text.
func GraphOf(p *Platform) Graph {
	var g Graph
	g.Nodes = append(g.Nodes, Node{ID: "gateway", Label: "gateway " + p.Composer.Listen, Kind: "gateway"})
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		label := name
		switch {
		case s.Kind == "http" && s.Discovery == "registry" && len(s.Instances.URLs) == 0:
			label = fmt.Sprintf("%s (http, registry)", name)
		case s.Kind == "http" && s.Discovery == "registry":
			label = fmt.Sprintf("%s (http, %d instances + registry)", name, len(s.Instances.URLs))
		case s.Kind == "http":
			label = fmt.Sprintf("%s (http, %d instances)", name, len(s.Instances.URLs))
		case s.Kind == "process":
			label = fmt.Sprintf("%s (process ×%d)", name, max(s.Instances.Count, 1))
		}
		protocol := ""
		switch {
		case s.Protocol == "grpc" || s.Protocol == "h2c":
			protocol = s.Protocol
		case slices.ContainsFunc(s.Routes, isGRPCRoute):
			protocol = "grpc"
		}
		if protocol == "grpc" {
			label += " · gRPC"
		}
		g.Nodes = append(g.Nodes, Node{ID: "svc_" + nodeID(name), Label: label, Kind: s.Kind, Protocol: protocol})
	}
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if len(s.Routes) > 0 {
			g.Edges = append(g.Edges, Edge{From: "gateway", To: "svc_" + nodeID(name), Kind: "route", Label: strings.Join(s.Routes, " ")})
		}
		for _, c := range s.Calls {
			g.Edges = append(g.Edges, Edge{From: "svc_" + nodeID(name), To: "svc_" + nodeID(c), Kind: "call",
				Label: "breaker " + PairBreaker(name, c)}) // the pair's own, through the mesh
		}
		for _, d := range s.DependsOn {
			g.Edges = append(g.Edges, Edge{From: "svc_" + nodeID(name), To: "svc_" + nodeID(d.Service), Kind: "depends", Label: d.Condition})
		}
	}
	topics := map[string]bool{}
	endpoints := map[string]bool{}
	for _, name := range sortedKeys(p.EventRoutes) {
		er := p.EventRoutes[name]
		topic := "topic_" + nodeID(er.Topic)
		if !topics[topic] {
			topics[topic] = true
			g.Nodes = append(g.Nodes, Node{ID: topic, Label: er.Topic, Kind: "topic"})
		}
		label := name
		if er.Filter != "" {
			label += " [" + er.Filter + "]"
		}
		for _, to := range er.To {
			svc, _ := EventTarget(to)
			target := "svc_" + nodeID(svc)
			if _, ok := p.Services[svc]; !ok {
				target = "url_" + nodeID(to)
				if !endpoints[target] {
					endpoints[target] = true
					g.Nodes = append(g.Nodes, Node{ID: target, Label: to, Kind: "endpoint"})
				}
			}
			g.Edges = append(g.Edges, Edge{From: topic, To: target, Kind: "event", Label: label})
		}
	}
	return g
}

var notID = regexp.MustCompile(`[^A-Za-z0-9_]+`)

func nodeID(s string) string { return notID.ReplaceAllString(s, "_") }

// Mermaid writes the graph as a Mermaid flowchart.
func (g Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	shape := map[string]string{"gateway": "{{%s}}", "topic": "[/%s/]", "endpoint": "([%s])"}
	for _, n := range g.Nodes {
		f := shape[n.Kind]
		if f == "" {
			f = "[%s]"
		}
		fmt.Fprintf(&b, "    %s"+f+"\n", n.ID, mermaidText(n.Label))
	}
	arrow := map[string]string{"route": "-->", "call": "==>", "depends": "-.->", "event": "-->"}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "    %s %s|%s| %s\n", e.From, arrow[e.Kind], mermaidText(e.Label), e.To)
	}
	return b.String()
}

func mermaidText(s string) string {
	return `"` + strings.NewReplacer(`"`, "#quot;", "|", "#124;").Replace(s) + `"`
}

// DOT writes the graph for Graphviz.
func (g Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph platform {\n    rankdir=LR;\n    node [fontname=\"sans-serif\"];\n")
	shape := map[string]string{"gateway": "hexagon", "topic": "parallelogram", "endpoint": "oval"}
	for _, n := range g.Nodes {
		s := shape[n.Kind]
		if s == "" {
			s = "box"
		}
		fmt.Fprintf(&b, "    %s [label=%s, shape=%s];\n", n.ID, dotText(n.Label), s)
	}
	style := map[string]string{"route": "solid", "call": "bold", "depends": "dashed", "event": "solid"}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "    %s -> %s [label=%s, style=%s];\n", e.From, e.To, dotText(e.Label), style[e.Kind])
	}
	b.WriteString("}\n")
	return b.String()
}

func dotText(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
