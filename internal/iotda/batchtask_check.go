package iotda

import (
	"fmt"
	"slices"
	"strings"
)

// SubtaskProblem says how the subtasks read for a task do not match the task: devices
// targeted but absent, devices present but not targeted, devices listed more than once, or,
// for group targets (whose devices are not known in advance), a number of devices other than
// the task's task_progress.total.
type SubtaskProblem struct {
	Missing    []string
	Unexpected []string
	Duplicated []string
	// Total is the task's task_progress.total and Read the number of distinct devices read;
	// they differ for a group task whose pages left devices out or added some.
	Total, Read int
}

// CheckSubtasks compares the subtasks read with the task's targets (nil for group targets)
// and its task_progress.total; nil when they match. The lists are sorted.
func CheckSubtasks(targets []string, total int, subtasks []Subtask) *SubtaskProblem {
	p := &SubtaskProblem{Total: total}
	seen := make(map[string]int, len(subtasks))
	for _, st := range subtasks {
		seen[st.Target]++
		if seen[st.Target] == 2 {
			p.Duplicated = append(p.Duplicated, st.Target)
		}
	}
	p.Read = len(seen)
	if targets != nil {
		want := make(map[string]struct{}, len(targets))
		for _, id := range targets {
			want[id] = struct{}{}
			if seen[id] == 0 {
				p.Missing = append(p.Missing, id)
			}
		}
		for id := range seen {
			if _, ok := want[id]; !ok {
				p.Unexpected = append(p.Unexpected, id)
			}
		}
	} else if _, blank := seen[""]; blank {
		p.Unexpected = append(p.Unexpected, "")
	}
	slices.Sort(p.Missing)
	slices.Sort(p.Unexpected)
	slices.Sort(p.Duplicated)
	if len(p.Missing) == 0 && len(p.Unexpected) == 0 && len(p.Duplicated) == 0 && (targets != nil || p.Read == total) {
		return nil
	}
	return p
}

// Error describes the problem, naming the first few devices of each kind and counting the rest.
func (p *SubtaskProblem) Error() string {
	var parts []string
	add := func(what string, ids []string) {
		if len(ids) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(ids), what, ListSome(ids, 5)))
		}
	}
	add("targeted device(s) missing", p.Missing)
	add("device(s) that were not targeted", p.Unexpected)
	add("device(s) listed more than once", p.Duplicated)
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d device(s) read where the task counts %d", p.Read, p.Total))
	}
	return "the results do not match the task: " + strings.Join(parts, "; ")
}

// ListSome renders the first n ids, quoted where they would not read as ids, then how many
// more there are: `d1, d2, d3 and 7 more`.
func ListSome(ids []string, n int) string {
	shown := make([]string, 0, min(n, len(ids)))
	for _, id := range ids[:min(n, len(ids))] {
		if id == "" || strings.ContainsAny(id, " ,\"") {
			id = fmt.Sprintf("%q", id)
		}
		shown = append(shown, id)
	}
	s := strings.Join(shown, ", ")
	if len(ids) > n {
		s += fmt.Sprintf(" and %d more", len(ids)-n)
	}
	return s
}
