package flows

import (
	"testing"
)

func TestGraph(t *testing.T) {
	src := `
id: g
title: G
codes: ["*1#"]
languages: [en, sw]
default_language: en
start: main
nodes:
  main:
    type: menu
    text: {en: Main, sw: Kuu}
    options:
      - label: {en: Ask, sw: Uliza}
        next: ask
      - label: {en: Lang, sw: Lugha}
        next: "@language"
  ask:
    type: input
    text: {en: "Name?", sw: "Jina?"}
    save: name
    next: hello
  hello:
    type: end
    text: "Hi {{name}}"
`
	f, err := Parse("g.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := f.Graph("sw")
	if g.Start != "main" || len(g.Nodes) != 3 {
		t.Fatalf("graph = %+v", g)
	}
	main := g.Nodes[0]
	if main.Name != "main" || main.Kind != "menu" || main.Text != "Kuu" {
		t.Errorf("main = %+v", main)
	}
	want := []GraphEdge{{Event: "option:1", Label: "Uliza", To: "ask"}, {Event: "option:2", Label: "Lugha", To: "@language"}}
	if len(main.Edges) != len(want) {
		t.Fatalf("main edges = %+v", main.Edges)
	}
	for i, e := range want {
		if main.Edges[i] != e {
			t.Errorf("edge %d = %+v, want %+v", i, main.Edges[i], e)
		}
	}
	if e := g.Nodes[1].Edges; len(e) != 1 || e[0].To != "hello" || e[0].Event != "valid" {
		t.Errorf("ask edges = %+v", e)
	}
	if n := g.Nodes[2]; n.Kind != "end" || n.Text != "Hi {{name}}" || len(n.Edges) != 0 {
		t.Errorf("hello = %+v", n)
	}
	if f.Limit().Octets != 160 {
		t.Errorf("limit = %+v", f.Limit())
	}
}
