package query

import "strings"

// Parse reads a query. Keywords and aggregate names are case-insensitive;
// column names are case-sensitive (quote them with "…" when they are
// keywords or not plain identifiers). A bare column in SELECT must be in
// GROUP BY: no query returns individual records. Errors are *Error.
func Parse(sql string) (*Query, error) {
	if len(sql) > MaxQueryBytes {
		return nil, errAt(MaxQueryBytes, KindSyntax, "the query is %d bytes, at most %d allowed", len(sql), MaxQueryBytes)
	}
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return q, nil
}

type parser struct {
	toks  []token
	i     int
	depth int // nesting of parentheses and NOT
	terms int // comparisons so far
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// describe names a token for an error message.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the query"
	case tIdent:
		return "\"" + t.text + "\""
	case tQuoted:
		return "the quoted name \"" + t.text + "\""
	case tNum:
		return "a number"
	case tOp:
		return t.text
	}
	return map[tokKind]string{tLParen: "(", tRParen: ")", tComma: ",", tStar: "*"}[t.kind]
}

func (p *parser) want(kind tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, errAt(t.pos, KindSyntax, "want %s, got %s", what, describe(t))
	}
	return t, nil
}

func (p *parser) query() (*Query, error) {
	if t := p.next(); !t.is("SELECT") {
		return nil, errAt(t.pos, KindSyntax, "want SELECT at the start, got %s", describe(t))
	}
	q := &Query{}
	for {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		if len(q.Items) == MaxItems {
			return nil, errAt(it.Pos, KindSyntax, "at most %d select items allowed", MaxItems)
		}
		q.Items = append(q.Items, it)
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if p.peek().is("WHERE") {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		q.Where = e
	}
	if p.peek().is("GROUP") {
		if err := p.groupBy(q); err != nil {
			return nil, err
		}
	}
	if t := p.next(); t.kind != tEOF {
		return nil, errAt(t.pos, KindSyntax, "want , WHERE, GROUP BY or the end of the query, got %s", describe(t))
	}
	return q, bareColumns(q)
}

func (p *parser) groupBy(q *Query) error {
	p.next()
	if t := p.next(); !t.is("BY") {
		return errAt(t.pos, KindSyntax, "want BY after GROUP, got %s", describe(t))
	}
	for {
		t := p.peek()
		name, err := p.column("after GROUP BY")
		if err != nil {
			return err
		}
		for _, c := range q.GroupBy {
			if c.Name == name {
				return errAt(t.pos, KindSyntax, "column %s is in GROUP BY twice", quoteIdent(name))
			}
		}
		if len(q.GroupBy) == MaxGroupBy {
			return errAt(t.pos, KindSyntax, "at most %d GROUP BY columns allowed", MaxGroupBy)
		}
		q.GroupBy = append(q.GroupBy, Column{Name: name, Pos: t.pos})
		if p.peek().kind != tComma {
			return nil
		}
		p.next()
	}
}

// bareColumns refuses a bare select item that is not a GROUP BY column.
func bareColumns(q *Query) error {
	for _, it := range q.Items {
		if it.Agg != AggNone || q.grouped(it.Col) {
			continue
		}
		return errAt(it.Pos, KindBareColumn, "column %s is selected bare but is not in GROUP BY: no query returns individual records; aggregate it (count(*), sum(%s), avg(%s), …) or add it to GROUP BY",
			quoteIdent(it.Col), quoteIdent(it.Col), quoteIdent(it.Col))
	}
	return nil
}

func (q *Query) grouped(col string) bool {
	for _, c := range q.GroupBy {
		if c.Name == col {
			return true
		}
	}
	return false
}

// column reads a column name: an identifier that is not a keyword, or a
// quoted name.
func (p *parser) column(where string) (string, error) {
	t := p.next()
	switch {
	case t.kind == tQuoted:
		return t.text, nil
	case t.kind == tIdent && !keywords[strings.ToUpper(t.text)]:
		return t.text, nil
	case t.kind == tIdent:
		return "", errAt(t.pos, KindSyntax, "want a column name %s, got the keyword %s (quote a column named so: \"%s\")", where, strings.ToUpper(t.text), t.text)
	}
	return "", errAt(t.pos, KindSyntax, "want a column name %s, got %s", where, describe(t))
}
