//! FHIRPath text to a syntax tree (precedence climbing over the lexer's tokens).

use crate::lexer::{lex, Tok, Token};
use crate::Error;

/// A parsed FHIRPath expression. Parse once, evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub(crate) root: Node,
    text: String,
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, Error> {
        let tokens = lex(text)?;
        let mut p = Parser { tokens, pos: 0, depth: 0 };
        let mut root = p.expr(0)?;
        match p.peek() {
            Tok::Eof => {
                crate::memo::place(&mut root);
                Ok(Expr { root, text: text.to_owned() })
            }
            t => Err(Error::syntax(p.at(), format!("unexpected {}", describe(t)))),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every `%name` the expression reads (without the `%`), for checking a form's names
    /// against its variables and launch contexts before it runs.
    pub fn variables(&self) -> std::collections::BTreeSet<String> {
        fn walk(n: &Node, out: &mut std::collections::BTreeSet<String>) {
            if let Kind::Env(name) = &n.kind {
                out.insert(name.clone());
            }
            n.children().into_iter().for_each(|c| walk(c, out));
        }
        let mut out = std::collections::BTreeSet::new();
        walk(&self.root, &mut out);
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Character offset of the node's first token.
    pub at: usize,
    /// Where this sub-expression reads only `%variables` (no focus, no clock), the last result
    /// and the variables it was computed from (see `memo`).
    pub memo: Option<Box<crate::memo::Memo>>,
}

impl Node {
    /// The node's sub-expressions, in evaluation order (the target, then the arguments).
    pub(crate) fn children(&self) -> Vec<&Node> {
        match &self.kind {
            Kind::Member(t, _) | Kind::Neg(t) | Kind::Is(t, _) | Kind::As(t, _) => vec![t],
            Kind::Index(a, b) | Kind::Binary(_, a, b) => vec![a, b],
            Kind::Call(t, _, args) => t.iter().map(|t| &**t).chain(args.iter()).collect(),
            _ => Vec::new(),
        }
    }

    /// The same, to change them.
    pub(crate) fn children_mut(&mut self) -> Vec<&mut Node> {
        match &mut self.kind {
            Kind::Member(t, _) | Kind::Neg(t) | Kind::Is(t, _) | Kind::As(t, _) => vec![t],
            Kind::Index(a, b) | Kind::Binary(_, a, b) => vec![a, b],
            Kind::Call(t, _, args) => t.iter_mut().map(|t| &mut **t).chain(args.iter_mut()).collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Empty,
    Bool(bool),
    Str(String),
    Int(i64),
    Dec(f64),
    Date(String),
    DateTime(String),
    Time(String),
    Quantity(f64, String),
    /// A name evaluated against the focus (`$this`).
    Ident(String),
    Env(String),
    Special(String),
    Member(Box<Node>, String),
    /// `focus.name(args)`, or `name(args)` on the current focus when there is no target.
    Call(Option<Box<Node>>, String, Vec<Node>),
    Index(Box<Node>, Box<Node>),
    Neg(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    Is(Box<Node>, String),
    As(Box<Node>, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Implies,
    Or,
    Xor,
    And,
    In,
    Contains,
    Eq,
    Equiv,
    Ne,
    NotEquiv,
    Lt,
    Gt,
    Le,
    Ge,
    Union,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    IntDiv,
    Mod,
}

const CALENDAR_UNITS: [&str; 16] = [
    "year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours", "minute", "minutes", "second",
    "seconds", "millisecond", "milliseconds",
];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Nesting of sub-expressions: bounded, so hostile input cannot overflow the stack.
    depth: usize,
}

const MAX_NESTING: usize = 128;

fn describe(t: &Tok) -> String {
    match t {
        Tok::Eof => "end of expression".into(),
        Tok::Sym(s) => format!("'{s}'"),
        Tok::Ident(s) => format!("name '{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        other => format!("{other:?}"),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }
    fn peek2(&self) -> &Tok {
        self.tokens.get(self.pos + 1).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    fn at(&self) -> usize {
        self.tokens[self.pos].at
    }
    fn next(&mut self) -> Tok {
        let t = self.tokens[self.pos].tok.clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }
    fn expect(&mut self, sym: &'static str) -> Result<(), Error> {
        if self.peek() == &Tok::Sym(sym) {
            self.next();
            Ok(())
        } else {
            Err(Error::syntax(self.at(), format!("expected '{sym}', found {}", describe(self.peek()))))
        }
    }

    /// The binary operator at the cursor and its precedence (higher binds tighter).
    fn binary_op(&self) -> Option<(Op, u8)> {
        Some(match self.peek() {
            Tok::Ident(w) => match w.as_str() {
                "implies" => (Op::Implies, 1),
                "or" => (Op::Or, 2),
                "xor" => (Op::Xor, 2),
                "and" => (Op::And, 3),
                "in" => (Op::In, 4),
                "contains" => (Op::Contains, 4),
                "div" => (Op::IntDiv, 10),
                "mod" => (Op::Mod, 10),
                _ => return None,
            },
            Tok::Sym(s) => match *s {
                "=" => (Op::Eq, 5),
                "~" => (Op::Equiv, 5),
                "!=" => (Op::Ne, 5),
                "!~" => (Op::NotEquiv, 5),
                "<" => (Op::Lt, 6),
                ">" => (Op::Gt, 6),
                "<=" => (Op::Le, 6),
                ">=" => (Op::Ge, 6),
                "|" => (Op::Union, 7),
                "+" => (Op::Add, 9),
                "-" => (Op::Sub, 9),
                "&" => (Op::Concat, 9),
                "*" => (Op::Mul, 10),
                "/" => (Op::Div, 10),
                _ => return None,
            },
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Node, Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Error::syntax(self.at(), "the expression nests too deeply"));
        }
        let r = self.expr_inner(min);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min: u8) -> Result<Node, Error> {
        let mut lhs = self.unary()?;
        loop {
            // `is` / `as` take a type name, not an expression (precedence 8).
            if let Tok::Ident(w) = self.peek()
                && (w == "is" || w == "as") && 8 >= min {
                    let is = w == "is";
                    let at = lhs.at;
                    self.next();
                    let ty = self.type_name()?;
                    let kind = if is { Kind::Is(Box::new(lhs), ty) } else { Kind::As(Box::new(lhs), ty) };
                    lhs = Node { kind, at, memo: None };
                    continue;
                }
            let Some((op, prec)) = self.binary_op() else { break };
            if prec < min {
                break;
            }
            // Errors in an operation point at its operator.
            let at = self.at();
            self.next();
            let rhs = self.expr(prec + 1)?;
            lhs = Node { kind: Kind::Binary(op, Box::new(lhs), Box::new(rhs)), at, memo: None };
        }
        Ok(lhs)
    }

    /// `Coding`, `FHIR.Coding`, `System.String`: kept qualified, since `System.Boolean` and
    /// FHIR's `boolean` are different types.
    fn type_name(&mut self) -> Result<String, Error> {
        let mut name = match self.next() {
            Tok::Ident(n) => n,
            t => return Err(Error::syntax(self.at(), format!("expected a type name, found {}", describe(&t)))),
        };
        while self.peek() == &Tok::Sym(".") && matches!(self.peek2(), Tok::Ident(_)) {
            self.next();
            if let Tok::Ident(n) = self.next() {
                name.push('.');
                name.push_str(&n);
            }
        }
        Ok(name)
    }

    fn unary(&mut self) -> Result<Node, Error> {
        let at = self.at();
        match self.peek() {
            Tok::Sym("-") => {
                self.next();
                let inner = self.expr(11)?;
                Ok(Node { kind: Kind::Neg(Box::new(inner)), at, memo: None })
            }
            Tok::Sym("+") => {
                self.next();
                self.expr(11)
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Node, Error> {
        let mut node = self.term()?;
        loop {
            match self.peek() {
                Tok::Sym(".") => {
                    self.next();
                    let at = self.at();
                    let name = match self.next() {
                        Tok::Ident(n) => n,
                        t => return Err(Error::syntax(at, format!("expected a name after '.', found {}", describe(&t)))),
                    };
                    if self.peek() == &Tok::Sym("(") {
                        let args = self.args()?;
                        node = Node { kind: Kind::Call(Some(Box::new(node)), name, args), at, memo: None };
                    } else {
                        node = Node { kind: Kind::Member(Box::new(node), name), at, memo: None };
                    }
                }
                Tok::Sym("[") => {
                    let at = self.at();
                    self.next();
                    let index = self.expr(0)?;
                    self.expect("]")?;
                    node = Node { kind: Kind::Index(Box::new(node), Box::new(index)), at, memo: None };
                }
                _ => return Ok(node),
            }
        }
    }

    fn args(&mut self) -> Result<Vec<Node>, Error> {
        self.expect("(")?;
        let mut args = Vec::new();
        if self.peek() == &Tok::Sym(")") {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            match self.next() {
                Tok::Sym(",") => continue,
                Tok::Sym(")") => return Ok(args),
                t => return Err(Error::syntax(self.at(), format!("expected ',' or ')' in arguments, found {}", describe(&t)))),
            }
        }
    }

    fn term(&mut self) -> Result<Node, Error> {
        let at = self.at();
        let kind = match self.next() {
            Tok::Str(s) => Kind::Str(s),
            Tok::Int(n) => self.maybe_quantity(n as f64).unwrap_or(Kind::Int(n)),
            Tok::Dec(d) => self.maybe_quantity(d).unwrap_or(Kind::Dec(d)),
            Tok::Date(d) => Kind::Date(d),
            Tok::DateTime(d) => Kind::DateTime(d),
            Tok::Time(t) => Kind::Time(t),
            Tok::Env(e) => Kind::Env(e),
            Tok::Special(s) => Kind::Special(s),
            Tok::Ident(w) if w == "true" => Kind::Bool(true),
            Tok::Ident(w) if w == "false" => Kind::Bool(false),
            Tok::Ident(name) => {
                if self.peek() == &Tok::Sym("(") {
                    let args = self.args()?;
                    Kind::Call(None, name, args)
                } else {
                    Kind::Ident(name)
                }
            }
            Tok::Sym("(") => {
                let inner = self.expr(0)?;
                self.expect(")")?;
                return Ok(inner);
            }
            Tok::Sym("{") => {
                self.expect("}")?;
                Kind::Empty
            }
            t => return Err(Error::syntax(at, format!("unexpected {}", describe(&t)))),
        };
        Ok(Node { kind, at, memo: None })
    }

    /// `5 'mg'` or `3 days`: a number followed by a unit is a Quantity.
    fn maybe_quantity(&mut self, value: f64) -> Option<Kind> {
        match self.peek().clone() {
            Tok::Str(unit) => {
                self.next();
                Some(Kind::Quantity(value, unit))
            }
            Tok::Ident(w) if CALENDAR_UNITS.contains(&w.as_str()) => {
                self.next();
                Some(Kind::Quantity(value, w))
            }
            _ => None,
        }
    }
}
