//! The name PostgreSQL gives an index declared without one (`CREATE UNIQUE INDEX ON t (a, b)`
//! is `t_a_b_idx`), by its own rules: each key and INCLUDE column's name (an expression's
//! function name, else `expr`) joined with `_`, the table's name in front and `idx` behind,
//! shortened to 63 bytes the way `makeObjectName` shortens, and `idx1`, `idx2`, ... while the
//! name is taken. Pure.

use super::lex::{self, Kind, Token};

/// The longest name PostgreSQL keeps (NAMEDATALEN - 1).
const MAX: usize = 63;

/// The names PostgreSQL takes for an index's columns from the elements of its column list
/// and INCLUDE list (`tokens[from..to]` each).
/// A name used twice gets a number (`expr`, `expr1`), as ChooseIndexColumnNames does.
pub fn column_names(sql: &str, t: &[Token], lists: &[(usize, usize)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (a, b) in lists
        .iter()
        .flat_map(|&(from, to)| lex::split_commas(t, from, to))
    {
        let name = element_name(sql, &t[a..b]).unwrap_or_else(|| "expr".into());
        let mut unique = name.clone();
        let mut i = 0;
        while out.contains(&unique) {
            i += 1;
            unique = format!("{name}{i}");
        }
        out.push(unique);
    }
    out
}

/// One element: a column (`a`, `a DESC`, `a text_pattern_ops`), a function call (its name),
/// or a parenthesised expression (what is inside, when that is a column, a call or a cast of
/// one).
fn element_name(sql: &str, t: &[Token]) -> Option<String> {
    let first = t.first()?;
    match first.kind {
        Kind::Punct(b'(') => {
            let close = lex::matching(t, 0);
            element_name(sql, &t[1..close])
        }
        Kind::Word | Kind::Quoted => {
            // A qualified call: the last part of the name is what PostgreSQL takes.
            let mut k = 0;
            while t.get(k + 1).is_some_and(|x| x.kind == Kind::Punct(b'.'))
                && t.get(k + 2)
                    .is_some_and(|x| matches!(x.kind, Kind::Word | Kind::Quoted))
            {
                k += 2;
            }
            let name = t[k].folded(sql)?;
            match t.get(k + 1).map(|x| x.kind) {
                Some(Kind::Punct(b'(')) => Some(name),
                // `a::text` names the column, as FigureColname does.
                None | Some(Kind::Word) | Some(Kind::Quoted) | Some(Kind::Punct(b':')) => {
                    Some(name)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `makeObjectName`: `name1_name2_label`, name1 and name2 shortened (the longer one first)
/// until the whole fits in 63 bytes, never inside a character.
fn object_name(name1: &str, name2: &str, label: &str) -> String {
    let overhead = label.len() + 1 + if name2.is_empty() { 0 } else { 1 };
    let avail = MAX - overhead;
    let (mut n1, mut n2) = (name1.len(), name2.len());
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut out = clip(name1, n1);
    if !name2.is_empty() {
        out.push('_');
        out.push_str(&clip(name2, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// The name of an unnamed index on `table` (its name without the schema) over `columns`, the
/// first that `taken` does not hold.
pub fn choose(table: &str, columns: &[String], taken: impl Fn(&str) -> bool) -> String {
    // ChooseIndexNameAddition stops adding names once the text is NAMEDATALEN long.
    let mut addition = String::new();
    for c in columns {
        if !addition.is_empty() {
            addition.push('_');
        }
        addition.push_str(c);
        if addition.len() > MAX {
            break;
        }
    }
    let mut pass = 0;
    loop {
        let label = if pass == 0 {
            "idx".to_string()
        } else {
            format!("idx{pass}")
        };
        let name = object_name(table, &addition, &label);
        if !taken(&name) {
            return name;
        }
        pass += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(cols: &str) -> Vec<String> {
        let sql = format!("({cols})");
        let t = lex::tokens(&sql);
        column_names(&sql, &t, &[(1, t.len() - 1)])
    }

    #[test]
    fn columns_calls_and_expressions() {
        assert_eq!(names("a, B"), ["a", "b"]);
        assert_eq!(
            names("\"Mixed\" DESC NULLS LAST, c text_pattern_ops"),
            ["Mixed", "c"]
        );
        assert_eq!(names("lower(email)"), ["lower"]);
        assert_eq!(names("(lower(email)), public.f(x)"), ["lower", "f"]);
        assert_eq!(names("(a + b), ((data ->> 'id'))"), ["expr", "expr1"]);
        assert_eq!(names("(a::text)"), ["a"]);
    }

    #[test]
    fn names_as_postgres_gives_them() {
        // As PostgreSQL 15 named them: CREATE INDEX ON t (a, b) twice gives t_a_b_idx and
        // t_a_b_idx1; ON t ((a + b), ((data ->> 'id'))) gives t_expr_expr1_idx.
        let cols = ["a".to_string(), "b".to_string()];
        assert_eq!(choose("t", &cols, |_| false), "t_a_b_idx");
        assert_eq!(choose("t", &cols, |n| n == "t_a_b_idx"), "t_a_b_idx1");
        assert_eq!(
            choose("t", &cols, |n| n == "t_a_b_idx" || n == "t_a_b_idx1"),
            "t_a_b_idx2"
        );
        // Long names: the longer part loses characters first, to 63 bytes in all (as
        // PostgreSQL 15 named it).
        let long = "a_very_long_table_name_that_goes_on_and_on_for_ever";
        let col = ["another_long_column_name_too".to_string()];
        let n = choose(long, &col, |_| false);
        assert_eq!(n.len(), 63);
        assert_eq!(
            n,
            "a_very_long_table_name_that_go_another_long_column_name_too_idx"
        );
    }
}
