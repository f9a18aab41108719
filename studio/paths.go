package studio

import "github.com/ussdgw/ussdgw/flows"

// walk returns the nodes a step went through from screen from to screen
// to, to included: the simulator sees screens only, and the actions and
// routers in between are found on the flow's graph (the shortest way
// through nodes that show no screen). A step that the graph does not
// explain (back, main menu, the language screen) is the one hop [to].
// from "" is a dial: the way from the start node.
func walk(g flows.Graph, from, to string) []string {
	byName := make(map[string]*flows.GraphNode, len(g.Nodes))
	for i := range g.Nodes {
		byName[g.Nodes[i].Name] = &g.Nodes[i]
	}
	if from == "" {
		if g.Start == to {
			return []string{to}
		}
		if p := through(byName, []string{g.Start}, to); p != nil {
			return p
		}
		return []string{to}
	}
	n := byName[from]
	if n == nil {
		return []string{to}
	}
	var firsts []string
	for _, e := range n.Edges {
		firsts = append(firsts, e.To)
	}
	if p := through(byName, firsts, to); p != nil {
		return p
	}
	return []string{to}
}

// through finds the shortest path from one of starts to to whose nodes
// before to show no screen.
func through(byName map[string]*flows.GraphNode, starts []string, to string) []string {
	prev := map[string]string{}
	var queue []string
	for _, s := range starts {
		if _, seen := prev[s]; !seen && byName[s] != nil {
			prev[s] = ""
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var p []string
			for c := cur; c != ""; c = prev[c] {
				p = append([]string{c}, p...)
			}
			return p
		}
		if screenKinds[byName[cur].Kind] {
			continue // a screen other than to: the user would have stopped there
		}
		for _, e := range byName[cur].Edges {
			if _, seen := prev[e.To]; !seen && byName[e.To] != nil {
				prev[e.To] = cur
				queue = append(queue, e.To)
			}
		}
	}
	return nil
}
