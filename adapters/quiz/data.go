package quiz

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/adapters/internal/i18n"
	"github.com/ussdgw/ussdgw/adapters/internal/source"
	"github.com/ussdgw/ussdgw/adapters/internal/yamlx"
)

// Doc is the data document: courses with their question banks.
type Doc struct {
	Langs []string `yaml:"langs" json:"langs"`
	// Size is the number of questions in one attempt.
	Size    int      `yaml:"size" json:"size"`
	Texts   Texts    `yaml:"texts" json:"texts"`
	Courses []Course `yaml:"courses" json:"courses"`
}

// Texts are the words the adapter adds to results.
type Texts struct {
	Pass i18n.Text `yaml:"pass" json:"pass"`
	Fail i18n.Text `yaml:"fail" json:"fail"`
	// SMS is the result as an SMS, with {course}, {score}, {total},
	// {percent} and {verdict} filled in.
	SMS i18n.Text `yaml:"sms" json:"sms"`
}

// Course is a course and its question bank.
type Course struct {
	ID        string     `yaml:"id" json:"id"`
	Name      i18n.Text  `yaml:"name" json:"name"`
	Pass      int        `yaml:"pass" json:"pass"` // right answers needed to pass
	Questions []Question `yaml:"questions" json:"questions"`
}

// Question is a multiple-choice question.
type Question struct {
	ID       string      `yaml:"id" json:"id"`
	Text     i18n.Text   `yaml:"text" json:"text"`
	Options  []i18n.Text `yaml:"options" json:"options"`
	Answer   int         `yaml:"answer" json:"answer"` // the right option, from 1
	Feedback i18n.Text   `yaml:"feedback" json:"feedback"`
}

// Limits on text lengths, in characters, so that a question and its
// options fit a screen or two.
const (
	maxText     = 120
	maxOption   = 40
	maxFeedback = 140
)

type data struct {
	langs   []string
	size    int
	texts   Texts
	courses []*course
	course  map[string]*course
}

type course struct {
	id        string
	name      map[string]string
	pass      int
	questions []*question // in bank order
	question  map[string]*question
	item      map[string]map[string]any // lang → {id, name, questions}
}

type question struct {
	id       string
	answer   int
	text     map[string]string
	options  map[string][]any // lang → [{id: "1", name}]
	right    map[string]string
	feedback map[string]string
}

var (
	idRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	varRE = regexp.MustCompile(`\{([a-z]+)\}`)
)

// Load decodes and checks a quiz document.
func Load(name string, raw []byte, remote bool) (*data, error) {
	doc, ix, err := source.Decode[Doc](name, raw, remote)
	if err != nil {
		return nil, err
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, ix.Problem(path, fmt.Sprintf(format, args...)))
	}
	if err := i18n.CheckLangs(doc.Langs); err != nil {
		bad("langs", "%v", err)
		return nil, errors.Join(errs...)
	}
	def := doc.Langs[0]
	text := func(path string, t i18n.Text, limit int) map[string]string {
		if err := t.Check(doc.Langs); err != nil {
			bad(path, "%v", err)
		}
		out := map[string]string{}
		for _, l := range doc.Langs {
			s := t.In(l, def)
			if n := utf8.RuneCountInString(s); limit > 0 && n > limit {
				bad(path, "%d characters in %s, over %d", n, l, limit)
			}
			out[l] = s
		}
		return out
	}
	if doc.Size < 1 || doc.Size > 20 {
		bad("size", "want 1 to 20")
	}
	text("texts.pass", doc.Texts.Pass, 60)
	text("texts.fail", doc.Texts.Fail, 60)
	text("texts.sms", doc.Texts.SMS, 100)
	known := map[string]bool{"course": true, "score": true, "total": true, "percent": true, "verdict": true}
	for _, t := range doc.Texts.SMS {
		for _, m := range varRE.FindAllStringSubmatch(t, -1) {
			if !known[m[1]] {
				bad("texts.sms", "unknown field {%s}", m[1])
			}
		}
	}
	d := &data{langs: doc.Langs, size: doc.Size, texts: doc.Texts, course: map[string]*course{}}
	for i, c := range doc.Courses {
		p := yamlx.Item("courses", i)
		if !idRE.MatchString(c.ID) {
			bad(yamlx.Join(p, "id"), "want a lower-case identifier, got %q", c.ID)
		} else if d.course[c.ID] != nil {
			bad(yamlx.Join(p, "id"), "course %q is defined twice", c.ID)
		}
		co := &course{id: c.ID, pass: c.Pass, name: text(yamlx.Join(p, "name"), c.Name, 40),
			question: map[string]*question{}, item: map[string]map[string]any{}}
		if len(c.Questions) < doc.Size {
			bad(yamlx.Join(p, "questions"), "%d questions, fewer than the quiz size %d", len(c.Questions), doc.Size)
		}
		if c.Pass < 1 || c.Pass > doc.Size {
			bad(yamlx.Join(p, "pass"), "want 1 to the quiz size (%d)", doc.Size)
		}
		for j, q := range c.Questions {
			qp := yamlx.Item(yamlx.Join(p, "questions"), j)
			if !idRE.MatchString(q.ID) || co.question[q.ID] != nil {
				bad(yamlx.Join(qp, "id"), "want a lower-case identifier not used before in the course, got %q", q.ID)
			}
			if len(q.Options) < 2 || len(q.Options) > 4 {
				bad(yamlx.Join(qp, "options"), "want 2 to 4 options, got %d", len(q.Options))
			}
			if q.Answer < 1 || q.Answer > len(q.Options) {
				bad(yamlx.Join(qp, "answer"), "want the number of an option, 1 to %d", len(q.Options))
			}
			qq := &question{id: q.ID, answer: q.Answer, text: text(yamlx.Join(qp, "text"), q.Text, maxText),
				feedback: text(yamlx.Join(qp, "feedback"), q.Feedback, maxFeedback),
				options:  map[string][]any{}, right: map[string]string{}}
			for k, o := range q.Options {
				names := text(yamlx.Item(yamlx.Join(qp, "options"), k), o, maxOption)
				for _, l := range doc.Langs {
					qq.options[l] = append(qq.options[l], map[string]any{"id": strconv.Itoa(k + 1), "name": names[l]})
					if k+1 == q.Answer {
						qq.right[l] = names[l]
					}
				}
			}
			co.questions = append(co.questions, qq)
			co.question[q.ID] = qq
		}
		for _, l := range doc.Langs {
			co.item[l] = map[string]any{"id": co.id, "name": co.name[l], "questions": doc.Size}
		}
		d.courses = append(d.courses, co)
		d.course[c.ID] = co
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}
