package analytics

import (
	"strings"
	"testing"
)

func TestWriteCSV(t *testing.T) {
	main := &NodeStats{Entered: 10, Choices: map[string]int64{"b": 3, "a": 4, "z": 0}, Exits: map[string]int64{"timeout": 2, "elsewhere": 1}, Rejected: 2}
	main.LatencyMs.Count, main.LatencyMs.Sum = 12, 340
	r := Report{Service: "svc", From: "2026-11-29", To: "2026-11-30", Sessions: 10, Completed: 4, Nodes: map[string]*NodeStats{
		"main": main,
		"end":  {Entered: 4, Choices: map[string]int64{}, Exits: map[string]int64{"end": 4}},
		"idle": {Choices: map[string]int64{}, Exits: map[string]int64{}},
	}}
	var b strings.Builder
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	want := `service,from,to,node,measure,detail,value
svc,2026-11-29,2026-11-30,,sessions,,10
svc,2026-11-29,2026-11-30,,completed,,4
svc,2026-11-29,2026-11-30,end,entered,,4
svc,2026-11-29,2026-11-30,end,exit,end,4
svc,2026-11-29,2026-11-30,main,entered,,10
svc,2026-11-29,2026-11-30,main,choice,a,4
svc,2026-11-29,2026-11-30,main,choice,b,3
svc,2026-11-29,2026-11-30,main,exit,elsewhere,1
svc,2026-11-29,2026-11-30,main,exit,timeout,2
svc,2026-11-29,2026-11-30,main,rejected,,2
svc,2026-11-29,2026-11-30,main,steps,,12
svc,2026-11-29,2026-11-30,main,latency_ms_sum,,340
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
