package provider

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// markdownLink matches the target of an inline Markdown link, [text](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// markdownHeading matches an ATX heading line, and anchorID an explicit HTML anchor.
var (
	markdownHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
	anchorID        = regexp.MustCompile(`<a id="([^"]+)">`)
)

// TestDocs_LinksResolve checks every relative link of the README and the generated docs: the
// file must exist and an anchor must name a heading of it. Schema descriptions are shared by
// several pages, so a link written for one page (such as #supported-terraform-and-opentofu-versions)
// once pointed nowhere on the others.
func TestDocs_LinksResolve(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	pages := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			pages = append(pages, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(page string) map[string]bool {
		if a, ok := anchors[page]; ok {
			return a
		}
		a := map[string]bool{}
		if b, err := os.ReadFile(page); err == nil {
			for _, m := range markdownHeading.FindAllStringSubmatch(withoutCodeBlocks(string(b)), -1) {
				a[headingSlug(m[1])] = true
			}
			for _, m := range anchorID.FindAllStringSubmatch(string(b), -1) {
				a[m[1]] = true
			}
		}
		anchors[page] = a
		return a
	}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(withoutCodeBlocks(string(b)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			linked := page
			if file != "" {
				linked = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(linked); err != nil {
					t.Errorf("%s links to %s, which does not exist", page, target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(linked, ".md") && !anchorsOf(linked)[anchor] {
				t.Errorf("%s links to %s, but %s has no heading with that anchor", page, target, linked)
			}
		}
	}
}

// withoutCodeBlocks drops fenced code blocks, whose lines are neither headings nor links.
func withoutCodeBlocks(s string) string {
	var b strings.Builder
	inCode := false
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// headingSlug is the anchor GitHub and the Terraform Registry give a heading: lowercase,
// spaces as hyphens, and punctuation other than hyphens and underscores dropped.
func headingSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
