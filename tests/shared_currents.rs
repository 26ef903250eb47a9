//! A membrane current that several mechanisms share (`i_Ca` of `CaL` and `CaT`) is their sum,
//! whichever of them covers the whole cell and whichever comes first. The step writes the first
//! mechanism's terms instead of adding them onto zeros, and writes a current straight into the
//! state when its first mechanism covers every compartment; these tests hold it to the sums.

use huxley::*;

const DT: f64 = 0.025;

/// A 3-branch cell of 2 compartments per branch at −30 mV with `CaL` and `CaT`: `None` leaves a
/// mechanism out, `Some(true)` inserts it everywhere, `Some(false)` on branch 1 only;
/// `cal_first` says which is inserted first.
fn cell(cal: Option<bool>, cat: Option<bool>, cal_first: bool) -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    let insert = |cell: &mut Cell, which: u8| -> Result<()> {
        match (which, cal, cat) {
            (0, Some(true), _) => drop(cell.insert(CaL)?),
            (0, Some(false), _) => drop(cell.branch(1)?.insert(CaL)?),
            (1, _, Some(true)) => drop(cell.insert(CaT)?),
            (1, _, Some(false)) => drop(cell.branch(1)?.insert(CaT)?),
            _ => {}
        }
        Ok(())
    };
    if cal_first {
        insert(&mut cell, 0)?;
        insert(&mut cell, 1)?;
    } else {
        insert(&mut cell, 1)?;
        insert(&mut cell, 0)?;
    }
    cell.set("v", -30.0)?;
    Ok(cell)
}

/// `v` and `i_Ca` after one step from the initial states, of the cell alone (`cells = 0`; its
/// branchpoint is its last node, so the mechanisms on every compartment run over a range of
/// nodes) or of a network of `cells` copies (branchpoints between the cells' compartments, so
/// they run padded over the branchpoints).
fn one_step(cell: &Cell, cells: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let net;
    let module: &Module = if cells == 0 {
        cell
    } else {
        net = Network::new(&vec![cell.clone(); cells])?;
        &net
    };
    let (init_fn, step_fn) =
        build_init_and_step_fn(module, VoltageSolver::Hines, Solver::BwdEuler)?;
    let (mut s, p) = init_fn.init::<f64>(&[], None, None, DT)?;
    step_fn.step(&mut s, &p, Externals::none().at(0), DT)?;
    Ok((s.get("v")?.to_vec(), s.get("i_Ca")?.to_vec()))
}

/// Equal bit for bit, NaN where the other is NaN.
fn same(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "{what} at node {i}: {x} against {y}"
        );
    }
}

#[test]
fn a_shared_current_is_the_sum_of_its_mechanisms() -> Result<()> {
    for ((cal, cat), cells) in [(true, true), (true, false), (false, true)]
        .into_iter()
        .flat_map(|m| [(m, 0), (m, 2)])
    {
        let (_, i_cal) = one_step(&cell(Some(cal), None, true)?, cells)?;
        let (_, i_cat) = one_step(&cell(None, Some(cat), true)?, cells)?;
        for cal_first in [true, false] {
            let (_, i_both) = one_step(&cell(Some(cal), Some(cat), cal_first)?, cells)?;
            let expected: Vec<f64> = i_cal
                .iter()
                .zip(&i_cat)
                .map(|(&a, &b)| match (a.is_nan(), b.is_nan()) {
                    (false, false) => a + b,
                    (false, true) => a,
                    (true, false) => b,
                    (true, true) => f64::NAN,
                })
                .collect();
            same(
                &i_both,
                &expected,
                &format!(
                    "i_Ca, {cells} cells, CaL everywhere {cal}, CaT everywhere {cat}, CaL first \
                     {cal_first}"
                ),
            );
            // The currents are not trivially small: the sum is a real test.
            let total: f64 = i_both.iter().filter(|x| !x.is_nan()).map(|x| x.abs()).sum();
            assert!(total > 1e-4, "i_Ca too small to test: {total}");
        }
    }
    Ok(())
}

#[test]
fn the_order_of_two_mechanisms_does_not_change_the_step() -> Result<()> {
    // Two terms per node: their sum is the same in either order, whether the first one is
    // written or added onto zero.
    for ((cal, cat), cells) in [(true, true), (true, false), (false, true)]
        .into_iter()
        .flat_map(|m| [(m, 0), (m, 2)])
    {
        let (v1, i1) = one_step(&cell(Some(cal), Some(cat), true)?, cells)?;
        let (v2, i2) = one_step(&cell(Some(cal), Some(cat), false)?, cells)?;
        same(
            &v1,
            &v2,
            &format!("v, {cells} cells, CaL everywhere {cal}, CaT {cat}"),
        );
        same(
            &i1,
            &i2,
            &format!("i_Ca, {cells} cells, CaL everywhere {cal}, CaT {cat}"),
        );
        assert!(
            v1.iter().all(|v| (v - -30.0).abs() > 1e-9),
            "v did not move"
        );
    }
    Ok(())
}
