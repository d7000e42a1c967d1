//! Checks of a named policy's settings. Its declaration builds the
//! configuration in a closure inside a `static`, outside the function and
//! before any call: there, `Self`, the function's generic parameters and its
//! parameters are not in scope, and rustc would say only "can't use `Self`
//! from outer item", "can't use generic parameters from outer item" or
//! "attempt to use a non-constant value in a constant".

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, GenericParam, Ident, Pat, Signature};

use crate::args::Value;
use crate::errors::Errors;

/// The names from the function's signature that a named policy's settings
/// cannot use.
pub(crate) struct Outer {
    /// Type and const parameters of the function.
    generics: Vec<Ident>,
    /// The bindings of the function's parameters.
    parameters: Vec<Ident>,
    /// Whether the function takes `self`.
    receiver: bool,
}

impl Outer {
    pub(crate) fn new(sig: &Signature) -> Self {
        // Only the function's own: an attribute sees its function alone, not
        // the generics of an enclosing `impl`, whose uses rustc still reports
        // (E0401, "can't use generic parameters from outer item").
        let generics = sig
            .generics
            .params
            .iter()
            .filter_map(|param| match param {
                GenericParam::Type(param) => Some(param.ident.unraw()),
                GenericParam::Const(param) => Some(param.ident.unraw()),
                GenericParam::Lifetime(_) => None,
            })
            .collect();
        let mut parameters = Vec::new();
        let mut receiver = false;
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(_) => receiver = true,
                FnArg::Typed(typed) => bindings(&typed.pat, &mut parameters),
            }
        }
        Outer {
            generics,
            parameters,
            receiver,
        }
    }

    /// Reports each use, in a named policy's setting, of `Self`, `self`, a
    /// generic parameter or a parameter of the function, at its token.
    pub(crate) fn check(&self, value: &Value, errors: &mut Errors) {
        let Some(expr) = value.written() else {
            return;
        };
        let tokens = expr.to_token_stream();
        // A parameter's name bound again inside the expression (by a closure,
        // `let`, `for` or a `match` arm) is left to rustc: telling which uses
        // the new binding covers would take name resolution.
        let mut rebound = Vec::new();
        rebindings(tokens.clone(), &mut rebound);
        self.walk(tokens, &rebound, errors);
    }

    fn walk(&self, tokens: TokenStream, rebound: &[Ident], errors: &mut Errors) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            let ident = match token {
                TokenTree::Group(group) => {
                    self.walk(group.stream(), rebound, errors);
                    continue;
                }
                TokenTree::Ident(ident) => ident,
                _ => continue,
            };
            if ident == "Self" {
                errors.at(
                    ident.span(),
                    "`Self` cannot be used in the arguments of a named policy: they are read at startup, outside the function; name the type instead, e.g. `MyType::DELAY`",
                );
                continue;
            }
            // Only the first segment of a path names something of the
            // function: not a field or method after `.`, a later segment after
            // `::`, a lifetime or label, a macro's name, nor a field named in
            // a struct literal (or a binding given a type).
            let after = |text: &str| i > 0 && is_punct(&tokens[i - 1], text);
            let member_or_lifetime = after(".") || after("'");
            let later_segment = after(":") && i > 1 && is_joint(&tokens[i - 2], ':');
            let macro_name = tokens
                .get(i + 1)
                .is_some_and(|next| is_punct(next, "!") && !is_joint(next, '!'));
            if member_or_lifetime || later_segment || macro_name || single_colon(&tokens, i + 1) {
                continue;
            }
            let name = ident.unraw();
            if self.generics.contains(&name) {
                errors.at(
                    ident.span(),
                    format!(
                        "the generic parameter `{name}` cannot be used in the arguments of a named policy: they are read at startup, outside the function; use a constant, or remove `name` to give each call site its own policy"
                    ),
                );
                continue;
            }
            // A value is a path of one segment: `wait::X` is not the parameter.
            if tokens.get(i + 1).is_some_and(|next| is_joint(next, ':')) {
                continue;
            }
            if ident == "self" && self.receiver {
                errors.at(
                    ident.span(),
                    "`self` cannot be used in the arguments of a named policy: they are read at startup, before any call; use a constant, or remove `name` to give each call site its own policy",
                );
            } else if self.parameters.contains(&name) && !rebound.contains(&name) {
                errors.at(
                    ident.span(),
                    format!(
                        "the function parameter `{name}` cannot be used in the arguments of a named policy: they are read at startup, before any call; use a constant, or remove `name` to give each call site its own policy"
                    ),
                );
            }
        }
    }
}

/// The names a parameter's pattern binds.
fn bindings(pat: &Pat, names: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(pat) => {
            names.push(pat.ident.unraw());
            if let Some((_, pat)) = &pat.subpat {
                bindings(pat, names);
            }
        }
        Pat::Tuple(pat) => pat.elems.iter().for_each(|pat| bindings(pat, names)),
        Pat::TupleStruct(pat) => pat.elems.iter().for_each(|pat| bindings(pat, names)),
        Pat::Struct(pat) => pat
            .fields
            .iter()
            .for_each(|field| bindings(&field.pat, names)),
        Pat::Slice(pat) => pat.elems.iter().for_each(|pat| bindings(pat, names)),
        Pat::Or(pat) => pat.cases.iter().for_each(|pat| bindings(pat, names)),
        Pat::Reference(pat) => bindings(&pat.pat, names),
        Pat::Paren(pat) => bindings(&pat.pat, names),
        Pat::Type(pat) => bindings(&pat.pat, names),
        _ => {}
    }
}

/// Every identifier that may be bound inside an expression: in a closure's
/// parameters, after `let` or `for`, or before a `=>`. Generous: a type or a
/// guard's names count too, which only keeps a use from being reported.
fn rebindings(tokens: TokenStream, names: &mut Vec<Ident>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut arm_start = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        match token {
            TokenTree::Group(group) => {
                rebindings(group.stream(), names);
                if group.delimiter() == Delimiter::Brace {
                    arm_start = i + 1;
                }
            }
            TokenTree::Ident(ident) if ident == "let" || ident == "for" => {
                let end = if ident == "let" { "=" } else { "in" };
                let stop = tokens[i + 1..]
                    .iter()
                    .position(|token| token.to_string() == end || is_punct(token, ";"))
                    .map_or(tokens.len(), |n| i + 1 + n);
                idents(&tokens[i + 1..stop], names);
                i = stop;
                continue;
            }
            TokenTree::Punct(punct) if punct.as_char() == '|' && starts_closure(&tokens, i) => {
                let stop = tokens[i + 1..]
                    .iter()
                    .position(|token| is_punct(token, "|"))
                    .map_or(tokens.len(), |n| i + 1 + n);
                idents(&tokens[i + 1..stop], names);
                i = stop + 1;
                continue;
            }
            TokenTree::Punct(punct) if punct.as_char() == ',' || punct.as_char() == ';' => {
                arm_start = i + 1;
            }
            TokenTree::Punct(punct)
                if is_joint(token, '=') && tokens.get(i + 1).is_some_and(|t| is_punct(t, ">")) =>
            {
                idents(&tokens[arm_start..i], names);
                arm_start = i + 2;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Whether the `|` at `i` opens a closure's parameters rather than being an
/// operator, which follows an operand (or is the second `|` of `||`).
fn starts_closure(tokens: &[TokenTree], i: usize) -> bool {
    match i.checked_sub(1).map(|before| &tokens[before]) {
        None => true,
        Some(before @ TokenTree::Punct(punct)) => !is_joint(before, '|') && punct.as_char() != '?',
        Some(TokenTree::Ident(ident)) => ["move", "async", "static", "return", "break", "in"]
            .iter()
            .any(|keyword| ident == keyword),
        Some(_) => false,
    }
}

/// Every identifier in `tokens`, groups included.
fn idents(tokens: &[TokenTree], names: &mut Vec<Ident>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => names.push(ident.unraw()),
            TokenTree::Group(group) => {
                idents(&group.stream().into_iter().collect::<Vec<_>>(), names);
            }
            _ => {}
        }
    }
}

fn is_punct(token: &TokenTree, text: &str) -> bool {
    matches!(token, TokenTree::Punct(punct) if text.len() == 1 && text.starts_with(punct.as_char()))
}

fn is_joint(token: &TokenTree, ch: char) -> bool {
    matches!(token, TokenTree::Punct(punct) if punct.as_char() == ch && punct.spacing() == Spacing::Joint)
}

/// Whether a lone `:` (not `::`) is at `i`.
fn single_colon(tokens: &[TokenTree], i: usize) -> bool {
    tokens.get(i).is_some_and(|token| is_punct(token, ":"))
        && !is_joint(&tokens[i], ':')
        && !(i > 0 && is_joint(&tokens[i - 1], ':'))
}

#[cfg(test)]
mod tests {
    use super::Outer;
    use crate::args::Value;
    use crate::errors::Errors;
    use syn::{parse_quote, Expr, Signature};

    /// The names reported in `expr` as a named policy's setting of `sig`.
    fn reported(sig: Signature, expr: Expr) -> Vec<String> {
        let mut errors = Errors::default();
        Outer::new(&sig).check(&Value::Duration(expr), &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error
                .into_iter()
                .map(|error| {
                    let message = error.to_string();
                    let name = message.split('`').nth(1).unwrap_or_default();
                    name.to_owned()
                })
                .collect(),
        }
    }

    #[test]
    fn parameters_used_as_values() {
        let sig: Signature = parse_quote!(fn f(wait: D, (low, B { c, d: e }): X, ref mut g @ _: Y));
        assert_eq!(
            reported(sig.clone(), parse_quote!(wait * 2 + f(low, c, e, g) + d)),
            ["wait", "low", "c", "e", "g"]
        );
        assert_eq!(reported(sig.clone(), parse_quote!(Foo { wait })), ["wait"]);
        assert_eq!(reported(sig.clone(), parse_quote!(a || wait)), ["wait"]);
        assert_eq!(reported(sig.clone(), parse_quote!(a != wait)), ["wait"]);
    }

    #[test]
    fn names_that_are_not_the_parameters() {
        let sig: Signature = parse_quote!(fn f(wait: D));
        for expr in [
            parse_quote!(Config::wait + x.wait + x.wait() + wait!() + Foo { wait: 1 }.wait),
            parse_quote!(wait::DEFAULT),
            parse_quote!([1].map(|wait| wait * 2)),
            parse_quote!(match x {
                Some(wait) => wait,
                None => 0,
            }),
            parse_quote!(if let Some(wait) = x { wait } else { 0 }),
            parse_quote!({
                let wait = 1;
                wait
            }),
        ] {
            assert_eq!(reported(sig.clone(), expr), Vec::<String>::new());
        }
    }

    #[test]
    fn generic_parameters() {
        let sig: Signature = parse_quote!(fn f<'a, T: Tr, const N: u64>());
        assert_eq!(
            reported(
                sig.clone(),
                parse_quote!(
                    T::X + <T as Tr>::X + size_of::<T>() + d(N) + x.T + Foo { N: 1 }.a + m::T
                )
            ),
            ["T", "T", "T", "N"]
        );
        assert_eq!(reported(sig, parse_quote!(a)), Vec::<String>::new());
    }

    #[test]
    fn self_and_its_type() {
        let method: Signature = parse_quote!(fn f(&self));
        assert_eq!(
            reported(
                method.clone(),
                parse_quote!(self.wait + self::WAIT + Self::WAIT)
            ),
            ["self", "Self"]
        );
        let function: Signature = parse_quote!(fn f());
        assert_eq!(
            reported(function, parse_quote!(self.wait)),
            Vec::<String>::new()
        );
    }
}
