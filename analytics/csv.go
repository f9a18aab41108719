package analytics

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// CSVHeader is the first line of WriteCSV.
var CSVHeader = []string{"service", "from", "to", "node", "measure", "detail", "value"}

// WriteCSV writes r in long form, one count per row, so that a
// spreadsheet can pivot it:
//
//	service,from,to,node,measure,detail,value
//	market,2026-11-30,2026-11-30,,sessions,,120
//	market,2026-11-30,2026-11-30,,completed,,87
//	market,2026-11-30,2026-11-30,main,entered,,120
//	market,2026-11-30,2026-11-30,main,choice,crop,64
//	market,2026-11-30,2026-11-30,main,exit,timeout,9
//	market,2026-11-30,2026-11-30,main,rejected,,4
//	market,2026-11-30,2026-11-30,main,steps,,131
//	market,2026-11-30,2026-11-30,main,latency_ms_sum,,5240
//
// Nodes come in name order, choices and exits in name order within a
// node; zero counts are left out.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	row := func(node, measure, detail string, v int64) {
		_ = cw.Write([]string{r.Service, r.From, r.To, node, measure, detail, strconv.FormatInt(v, 10)})
	}
	_ = cw.Write(CSVHeader)
	row("", "sessions", "", r.Sessions)
	row("", "completed", "", r.Completed)
	for _, name := range r.NodeNames() {
		ns := r.Nodes[name]
		if ns.Entered != 0 {
			row(name, "entered", "", ns.Entered)
		}
		for _, next := range sortedKeys(ns.Choices) {
			row(name, "choice", next, ns.Choices[next])
		}
		for _, cause := range sortedKeys(ns.Exits) {
			row(name, "exit", cause, ns.Exits[cause])
		}
		if ns.Rejected != 0 {
			row(name, "rejected", "", ns.Rejected)
		}
		if ns.LatencyMs.Count != 0 {
			row(name, "steps", "", ns.LatencyMs.Count)
			row(name, "latency_ms_sum", "", ns.LatencyMs.Sum)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing the analytics CSV: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
