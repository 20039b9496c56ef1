package query

// or reads OR-terms: the lowest precedence.
func (p *parser) or() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.and()
		if err != nil {
			return nil, err
		}
		if o, ok := e.(*Or); ok {
			terms = append(terms, o.Terms...)
		} else {
			terms = append(terms, e)
		}
		if !p.peek().is("OR") {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) and() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		if a, ok := e.(*And); ok {
			terms = append(terms, a.Terms...)
		} else {
			terms = append(terms, e)
		}
		if !p.peek().is("AND") {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &And{Terms: terms}, nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return errAt(pos, KindSyntax, "the WHERE clause nests deeper than %d parentheses and NOTs", MaxDepth)
	}
	return nil
}

func (p *parser) not() (Expr, error) {
	t := p.peek()
	if t.is("NOT") {
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		x, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	if t.kind == tLParen {
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		e, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if _, err := p.want(tRParen, ") to close the ( at "+itoa(t.pos)); err != nil {
			return nil, err
		}
		return e, nil
	}
	return p.predicate()
}

// predicate reads operand (op operand | [NOT] IN (…) | [NOT] BETWEEN a AND b).
func (p *parser) predicate() (Expr, error) {
	x, err := p.operand("at the start of a condition")
	if err != nil {
		return nil, err
	}
	p.terms++
	if p.terms > MaxTerms {
		return nil, errAt(x.Pos, KindSyntax, "at most %d conditions allowed in WHERE", MaxTerms)
	}
	t := p.next()
	if t.kind == tOp {
		r, err := p.operand("after " + t.text)
		if err != nil {
			return nil, err
		}
		return &Cmp{Op: opOf(t.text), L: x, R: r}, nil
	}
	negate := t.is("NOT")
	if negate {
		t = p.next()
	}
	var e Expr
	switch {
	case t.is("IN"):
		e, err = p.inList(x)
	case t.is("BETWEEN"):
		e, err = p.between(x)
	case negate:
		return nil, errAt(t.pos, KindSyntax, "want IN or BETWEEN after NOT, got %s", describe(t))
	default:
		return nil, errAt(t.pos, KindSyntax, "want a comparison (= != < <= > >=), IN or BETWEEN, got %s", describe(t))
	}
	if err != nil || !negate {
		return e, err
	}
	return &Not{X: e}, nil
}

func (p *parser) inList(x Operand) (Expr, error) {
	if _, err := p.want(tLParen, "( after IN"); err != nil {
		return nil, err
	}
	in := &In{X: x}
	for {
		t, err := p.want(tNum, "an integer in the IN list")
		if err != nil {
			return nil, err
		}
		if len(in.List) == MaxInList {
			return nil, errAt(t.pos, KindSyntax, "at most %d values allowed in an IN list", MaxInList)
		}
		in.List = append(in.List, t.val)
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if _, err := p.want(tRParen, ", or ) in the IN list"); err != nil {
		return nil, err
	}
	return in, nil
}

func (p *parser) between(x Operand) (Expr, error) {
	lo, err := p.operand("after BETWEEN")
	if err != nil {
		return nil, err
	}
	if t := p.next(); !t.is("AND") {
		return nil, errAt(t.pos, KindSyntax, "want AND in BETWEEN low AND high, got %s", describe(t))
	}
	hi, err := p.operand("after BETWEEN … AND")
	if err != nil {
		return nil, err
	}
	return &Between{X: x, Lo: lo, Hi: hi}, nil
}

func (p *parser) operand(where string) (Operand, error) {
	t := p.peek()
	if t.kind == tNum {
		p.next()
		return Operand{Val: t.val, Pos: t.pos}, nil
	}
	if t.kind != tIdent && t.kind != tQuoted {
		p.next()
		return Operand{}, errAt(t.pos, KindSyntax, "want a column name or an integer %s, got %s", where, describe(t))
	}
	name, err := p.column(where)
	if err != nil {
		return Operand{}, err
	}
	return Operand{IsCol: true, Col: name, Pos: t.pos}, nil
}

func opOf(s string) CmpOp {
	for i, n := range opNames {
		if n == s {
			return CmpOp(i)
		}
	}
	return OpEq // the lexer makes only the six operators
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
