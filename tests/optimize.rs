//! Around the gradient: parameter transforms (Jaxley's formulas), the Adam optimiser (optax's
//! formulas), batches of simulations (bit for bit the single runs, any number of threads) and
//! `write_trainables` (a later plain run is the run with the parameters).

use huxley::model::{cylinder_area, cylinder_resistive_load, cylinder_volume};
use huxley::*;
use std::sync::Arc;

const DT: f64 = 0.025;

fn group(key: &str, values: &[f64]) -> ParamGroup<f64> {
    ParamGroup {
        key: key.to_string(),
        values: values.to_vec(),
    }
}

fn pool(threads: usize) -> Parallelism {
    Parallelism::Pool(Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Transforms
// ---------------------------------------------------------------------------------------------

/// Jaxley's `save_exp`.
fn save_exp(x: f64) -> f64 {
    x.min(20.0).exp()
}

/// Jaxley 0.14's formulas (jaxley/optimize/transforms.py), written out in plain f64.
fn sigmoid_formula(lower: f64, upper: f64, x: f64) -> f64 {
    let width = upper - lower;
    lower + width * (1.0 / (1.0 + save_exp(-x)))
}
fn softplus_formula(lower: f64, x: f64) -> f64 {
    (if x > 20.0 { x } else { save_exp(x).ln_1p() }) + lower
}

const POINTS: [f64; 9] = [-30.0, -20.5, -3.0, -0.5, 0.0, 0.7, 4.0, 19.5, 25.0];

#[test]
fn transforms_compute_jaxleys_formulas() -> Result<()> {
    let (lo, hi) = (-2.0, 5.0);
    let sig = Transform::sigmoid(lo, hi)?;
    let logi = Transform::logistic(lo, hi)?;
    let soft = Transform::softplus(0.1)?;
    let aff = Transform::affine(-3.0, 0.5)?;
    let chain = Transform::chain(vec![aff.clone(), sig.clone()])?;
    for x in POINTS {
        assert_eq!(sig.forward(x), sigmoid_formula(lo, hi, x), "sigmoid at {x}");
        let xl = x * std::f64::consts::PI / 3.0_f64.sqrt();
        assert_eq!(
            logi.forward(x),
            sigmoid_formula(lo, hi, xl),
            "logistic at {x}"
        );
        assert_eq!(soft.forward(x), softplus_formula(0.1, x), "softplus at {x}");
        assert_eq!(aff.forward(x), -3.0 * x + 0.5, "affine at {x}");
        assert_eq!(Transform::Identity.forward(x), x);
        assert_eq!(
            chain.forward(x),
            sigmoid_formula(lo, hi, -3.0 * x + 0.5),
            "chain at {x}"
        );
    }
    // Jaxley's inverse formulas.
    for y in [-1.9, -0.3, 1.5, 4.99] {
        let s = (y - lo) / (hi - lo);
        let x = -(1.0 / s - 1.0).ln();
        assert_eq!(sig.inverse(y)?, x, "sigmoid inverse at {y}");
        assert_eq!(
            logi.inverse(y)?,
            x * 3.0_f64.sqrt() / std::f64::consts::PI,
            "logistic inverse at {y}"
        );
        assert_eq!(aff.inverse(y)?, (y - 0.5) / -3.0);
    }
    for y in [0.1000001, 0.2, 1.0, 20.0, 20.2, 35.0] {
        let want = if y > 0.1 + 20.0 {
            y - 0.1
        } else {
            (save_exp(y - 0.1) - 1.0).ln()
        };
        assert_eq!(soft.inverse(y)?, want, "softplus inverse at {y}");
    }
    // Values printed by Jaxley 0.14 (x64) itself, as a check on the reading of its source:
    // SigmoidTransform(-2, 5).forward([-3, 0.7]), LogisticTransform(-2, 5).forward(-3),
    // SoftplusTransform(0.1).inverse(1).
    assert!((sig.forward(-3.0) + 1.668_018_89).abs() < 1e-8);
    assert!((sig.forward(0.7) - 2.677_314_41).abs() < 1e-8);
    assert!((logi.forward(-3.0) + 1.969_796_94).abs() < 1e-8);
    assert!((soft.inverse(1.0)? - 0.378_164_56).abs() < 1e-8);
    // The clip of save_exp: below -20 the sigmoid is flat, as in Jaxley.
    assert_eq!(sig.forward(-25.0), sig.forward(-30.0));
    assert_eq!(sig.derivative(-25.0), 0.0);
    Ok(())
}

#[test]
fn transforms_round_trip() -> Result<()> {
    let transforms = [
        Transform::Identity,
        Transform::sigmoid(-2.0, 5.0)?,
        Transform::logistic(0.01, 0.3)?,
        Transform::softplus(-70.0)?,
        Transform::affine(0.25, -1.0)?,
        Transform::chain(vec![
            Transform::affine(2.0, 1.0)?,
            Transform::softplus(0.0)?,
            Transform::affine(-1.0, 3.0)?,
        ])?,
    ];
    for t in &transforms {
        for x in [-4.0, -1.3, -0.2, 0.0, 0.45, 1.0, 3.7] {
            let back = t.inverse(t.forward(x))?;
            assert!(
                (back - x).abs() <= 1e-9 * (1.0 + x.abs()),
                "{t:?}: x = {x}, inverse(forward(x)) = {back}"
            );
            let y = t.forward(x);
            let again = t.forward(t.inverse(y)?);
            assert!(
                (again - y).abs() <= 1e-14 * (1.0 + y.abs()),
                "{t:?}: y = {y}, forward(inverse(y)) = {again}"
            );
        }
    }
    // The linear part of softplus (above the threshold) inverts exactly.
    let soft = Transform::softplus(0.5)?;
    assert_eq!(soft.inverse(soft.forward(30.0))?, 30.0);
    Ok(())
}

#[test]
fn transform_derivatives_match_central_differences() -> Result<()> {
    let transforms = [
        Transform::sigmoid(-2.0, 5.0)?,
        Transform::logistic(0.01, 0.3)?,
        Transform::softplus(-70.0)?,
        Transform::affine(0.25, -1.0)?,
        Transform::chain(vec![
            Transform::affine(2.0, 1.0)?,
            Transform::sigmoid(0.0, 1.0)?,
        ])?,
    ];
    let h = 1e-5;
    for t in &transforms {
        for x in [-6.0, -1.3, -0.2, 0.0, 0.45, 1.0, 3.7, 25.0] {
            let fd = (t.forward(x + h) - t.forward(x - h)) / (2.0 * h);
            let d = t.derivative(x);
            assert!(
                (d - fd).abs() <= 1e-8 * (1.0 + fd.abs()),
                "{t:?} at {x}: derivative {d}, central difference {fd}"
            );
        }
    }
    // Closed forms: the sigmoid's width · s (1 - s), softplus' logistic function.
    let sig = Transform::sigmoid(-2.0, 5.0)?;
    let s = 1.0 / (1.0 + (-0.8_f64).exp());
    assert!((sig.derivative(0.8) - 7.0 * s * (1.0 - s)).abs() < 1e-15);
    let soft = Transform::softplus(3.0)?;
    assert!((soft.derivative(0.8) - s).abs() < 1e-15);
    assert_eq!(soft.derivative(21.0), 1.0);
    Ok(())
}

fn hh_cell() -> Result<Cell> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    Ok(cell)
}

#[test]
fn param_transform_maps_keys_and_chains_gradients() -> Result<()> {
    let mut cell = hh_cell()?;
    cell.branches().try_for_each(|_, mut b| {
        b.make_trainable("HH_gNa", None)?;
        Ok(())
    })?;
    cell.make_trainable("radius", Some(1.5))?;
    cell.branch(1)?.make_trainable("HH_gNa", Some(0.2))?;
    let params = cell.get_parameters();
    assert_eq!(params.len(), 5);
    let sig = Transform::sigmoid(0.05, 0.5)?;
    let soft = Transform::softplus(0.1)?;
    let tf = ParamTransform::new([("HH_gNa", sig.clone()), ("radius", soft.clone())])?;
    let x = tf.inverse(&params)?;
    for (p, q) in x.iter().zip(&params) {
        assert_eq!(p.key, q.key);
        let t = if p.key == "radius" { &soft } else { &sig };
        for (&u, &c) in p.values.iter().zip(&q.values) {
            assert_eq!(u, t.inverse(c)?);
        }
    }
    let y = tf.forward(&x)?;
    for (p, q) in y.iter().zip(&params) {
        for (a, b) in p.values.iter().zip(&q.values) {
            assert!((a - b).abs() < 1e-14);
        }
    }
    // The gradient of L(forward(x)) = Σ y² w.r.t. x from dL/dy = 2y, against central
    // differences of L through the transform.
    let loss = |x: &[ParamGroup<f64>]| -> f64 {
        tf.forward(x)
            .unwrap()
            .iter()
            .flat_map(|g| g.values.iter().map(|y| y * y))
            .sum()
    };
    let grad_y: Vec<ParamGroup<f64>> = y
        .iter()
        .map(|g| {
            group(
                &g.key,
                &g.values.iter().map(|v| 2.0 * v).collect::<Vec<_>>(),
            )
        })
        .collect();
    let grad_x = tf.chain_gradient(&x, &grad_y)?;
    let h = 1e-6;
    for i in 0..x.len() {
        for j in 0..x[i].values.len() {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus[i].values[j] += h;
            minus[i].values[j] -= h;
            let fd = (loss(&plus) - loss(&minus)) / (2.0 * h);
            let g = grad_x[i].values[j];
            assert!(
                (g - fd).abs() <= 1e-7 * (1.0 + fd.abs()),
                "{i},{j}: {g} vs {fd}"
            );
        }
    }
    // Per group, as Jaxley's list of dicts: the same result as by key here.
    let per = ParamTransform::per_group(vec![
        sig.clone(),
        sig.clone(),
        sig.clone(),
        soft.clone(),
        sig.clone(),
    ])?;
    assert_eq!(per.forward(&x)?, y);
    // Dual numbers go through: d forward / dx in the dual part.
    let dual: Vec<ParamGroup<Dual64>> = vec![ParamGroup {
        key: "radius".into(),
        values: vec![Dual64::new(0.3, 1.0)],
    }];
    let only_radius = ParamTransform::new([("radius", soft.clone())])?;
    assert_eq!(
        only_radius.forward(&dual)?[0].values[0].eps,
        soft.derivative(0.3)
    );
    Ok(())
}

#[test]
fn bad_transforms_are_typed_errors() -> Result<()> {
    let invalid = |r: Result<Transform>, name: &str| {
        assert!(
            matches!(&r, Err(Error::InvalidValue { name: n, .. }) if n == name),
            "{r:?}"
        )
    };
    invalid(Transform::sigmoid(1.0, 1.0), "upper");
    invalid(Transform::sigmoid(2.0, 1.0), "upper");
    invalid(Transform::logistic(0.0, -1.0), "upper");
    invalid(Transform::sigmoid(f64::NAN, 1.0), "lower");
    invalid(Transform::sigmoid(0.0, f64::INFINITY), "upper");
    invalid(Transform::softplus(f64::NEG_INFINITY), "lower");
    invalid(Transform::affine(0.0, 1.0), "scale");
    invalid(Transform::affine(1e-9, 1.0), "scale");
    invalid(Transform::affine(2.0, f64::NAN), "shift");
    invalid(
        Transform::chain(vec![
            Transform::Identity,
            Transform::Sigmoid {
                lower: 3.0,
                upper: 0.0,
            },
        ]),
        "upper",
    );
    // Hand-built invalid transforms are caught by ParamTransform.
    assert!(matches!(
        ParamTransform::new([(
            "radius",
            Transform::Affine {
                scale: 0.0,
                shift: 0.0
            }
        )]),
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        ParamTransform::per_group(vec![Transform::Sigmoid {
            lower: 1.0,
            upper: 1.0
        }]),
        Err(Error::InvalidValue { .. })
    ));

    // Inverse outside the range (where Jaxley gives NaN or ±inf).
    let sig = Transform::sigmoid(0.0, 1.0)?;
    for y in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert!(
            matches!(sig.inverse(y), Err(Error::InvalidValue { .. })),
            "sigmoid inverse of {y}"
        );
    }
    let soft = Transform::softplus(2.0)?;
    for y in [2.0, 1.0, f64::INFINITY] {
        assert!(
            matches!(soft.inverse(y), Err(Error::InvalidValue { .. })),
            "{y}"
        );
    }
    let chain = Transform::chain(vec![Transform::affine(2.0, 0.0)?, sig.clone()])?;
    assert!(matches!(
        chain.inverse(1.2),
        Err(Error::InvalidValue { .. })
    ));

    // ParamTransform: unknown, missing and repeated keys, wrong lengths.
    let params = vec![group("HH_gNa", &[0.1, 0.2]), group("radius", &[1.0])];
    let both = ParamTransform::new([("HH_gNa", sig.clone()), ("radius", soft.clone())])?;
    let unknown = ParamTransform::new([
        ("HH_gNa", sig.clone()),
        ("radius", soft.clone()),
        ("HH_gK", sig.clone()),
    ])?;
    assert!(
        matches!(unknown.forward(&params), Err(Error::UnknownName { name, .. }) if name == "HH_gK")
    );
    let missing = ParamTransform::new([("HH_gNa", sig.clone())])?;
    assert!(
        matches!(missing.inverse(&params), Err(Error::UnknownName { name, .. }) if name == "radius")
    );
    assert!(matches!(
        ParamTransform::new([("radius", soft.clone()), ("radius", sig.clone())]),
        Err(Error::DuplicateName { name, .. }) if name == "radius"
    ));
    let per = ParamTransform::per_group(vec![sig.clone()])?;
    assert!(matches!(
        per.forward(&params),
        Err(Error::LengthMismatch { .. })
    ));
    // The inverse of a bad value names the key and the index.
    let outside = vec![group("HH_gNa", &[0.5, 1.5]), group("radius", &[3.0])];
    match both.inverse(&outside) {
        Err(Error::InvalidValue { name, location, .. }) => {
            assert_eq!(name, "HH_gNa");
            assert!(location.contains("value 1"), "{location}");
        }
        r => panic!("{r:?}"),
    }
    // Gradients of another shape than the parameters.
    let x = both.inverse(&[group("HH_gNa", &[0.5, 0.25]), group("radius", &[3.0])])?;
    let short = vec![group("HH_gNa", &[1.0]), group("radius", &[1.0])];
    assert!(matches!(
        both.chain_gradient(&x, &short),
        Err(Error::LengthMismatch { .. })
    ));
    let swapped = vec![group("radius", &[1.0]), group("HH_gNa", &[1.0, 1.0])];
    assert!(matches!(
        both.chain_gradient(&x, &swapped),
        Err(Error::UnknownName { .. })
    ));
    assert!(matches!(
        both.chain_gradient(&x, &short[..1]),
        Err(Error::LengthMismatch { .. })
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------

#[test]
fn adam_gives_optaxs_first_three_updates() -> Result<()> {
    let (lr, b1, b2, eps) = (0.05, 0.9, 0.999, 1e-8);
    let mut adam = Adam::new(lr)?;
    let grads = [
        vec![group("a", &[0.5, -2.0]), group("b", &[1e-3])],
        vec![group("a", &[-1.0, -2.0]), group("b", &[0.0])],
        vec![group("a", &[2.0, 0.5]), group("b", &[4.0])],
    ];
    let start = vec![group("a", &[1.0, -1.0]), group("b", &[10.0])];
    let mut params = start.clone();
    // optax: mu = (1-b1) g + b1 mu; nu = (1-b2) g² + b2 nu; count += 1;
    // update = -lr · (mu / (1 - b1^t)) / (sqrt(nu / (1 - b2^t)) + eps).
    let mut want = start.clone();
    let flat = |gs: &Vec<ParamGroup<f64>>| -> Vec<f64> {
        gs.iter().flat_map(|g| g.values.clone()).collect()
    };
    let mut mu = [0.0; 3];
    let mut nu = [0.0; 3];
    let mut b1t = 1.0;
    let mut b2t = 1.0;
    for (t, g) in grads.iter().enumerate() {
        b1t *= b1;
        b2t *= b2;
        let gv = flat(g);
        let mut upd = [0.0; 3];
        for k in 0..3 {
            mu[k] = (1.0 - b1) * gv[k] + b1 * mu[k];
            nu[k] = (1.0 - b2) * gv[k] * gv[k] + b2 * nu[k];
            upd[k] = -lr * (mu[k] / (1.0 - b1t)) / ((nu[k] / (1.0 - b2t)).sqrt() + eps);
        }
        let u = adam.clone().updates(g)?;
        let got = flat(&u);
        for k in 0..3 {
            assert!(
                (got[k] - upd[k]).abs() <= 1e-14 * upd[k].abs().max(1e-300),
                "step {}, value {k}: {} vs {}",
                t + 1,
                got[k],
                upd[k]
            );
        }
        adam.step(&mut params, g)?;
        let mut k = 0;
        for w in want.iter_mut() {
            for v in w.values.iter_mut() {
                *v += upd[k];
                k += 1;
            }
        }
        for (p, w) in params.iter().zip(&want) {
            for (a, b) in p.values.iter().zip(&w.values) {
                assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0));
            }
        }
        assert_eq!(adam.count(), t as u64 + 1);
    }
    // The first step of Adam moves every value by lr · g / (|g| + eps): about lr against the
    // gradient's sign, whatever its size.
    let mut fresh = Adam::new(lr)?;
    let u = fresh.updates(&grads[0])?;
    assert!((u[0].values[0] + lr * 0.5 / (0.5 + eps)).abs() < 1e-17);
    assert!((u[1].values[0] + lr * 1e-3 / (1e-3 + eps)).abs() < 1e-17);
    // The first moment is (1 - b1) g after one step.
    assert!((fresh.first_moments()[1].values[0] - 0.1 * 1e-3).abs() < 1e-19);
    Ok(())
}

#[test]
fn adam_minimises_a_badly_scaled_quadratic() -> Result<()> {
    // f(x) = Σ a_k (x_k - c_k)² with curvatures over 6 orders of magnitude.
    let a = [1e-3, 1.0, 1e3];
    let c = [2.0, -1.0, 0.5];
    let mut params = vec![group("x", &[0.0, 0.0]), group("y", &[0.0])];
    let f = |p: &[ParamGroup<f64>]| -> f64 {
        let x = [p[0].values[0], p[0].values[1], p[1].values[0]];
        (0..3).map(|k| a[k] * (x[k] - c[k]).powi(2)).sum()
    };
    let f0 = f(&params);
    let mut adam = Adam::new(0.05)?;
    for _ in 0..3000 {
        let x = [
            params[0].values[0],
            params[0].values[1],
            params[1].values[0],
        ];
        let g: Vec<f64> = (0..3).map(|k| 2.0 * a[k] * (x[k] - c[k])).collect();
        adam.step(&mut params, &[group("x", &g[..2]), group("y", &g[2..])])?;
    }
    let x = [
        params[0].values[0],
        params[0].values[1],
        params[1].values[0],
    ];
    for k in 0..3 {
        assert!((x[k] - c[k]).abs() < 1e-2, "x{k} = {}, want {}", x[k], c[k]);
    }
    assert!(f(&params) < 1e-6 * f0);
    Ok(())
}

#[test]
fn bad_adam_input_is_a_typed_error() -> Result<()> {
    for r in [
        Adam::new(f64::NAN),
        Adam::with_options(0.1, 1.0, 0.999, 1e-8, 0.0),
        Adam::with_options(0.1, 0.9, -0.1, 1e-8, 0.0),
        Adam::with_options(0.1, 0.9, 0.999, -1e-8, 0.0),
        Adam::with_options(0.1, 0.9, 0.999, 1e-8, f64::INFINITY),
    ] {
        assert!(matches!(r, Err(Error::InvalidValue { .. })), "{r:?}");
    }
    let mut adam = Adam::new(0.1)?;
    assert!(matches!(
        adam.set_learning_rate(f64::NAN),
        Err(Error::InvalidValue { .. })
    ));
    let mut params = vec![group("x", &[1.0, 2.0])];
    // Gradient of another shape than the parameters.
    assert!(matches!(
        adam.step(&mut params, &[group("x", &[1.0])]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        adam.step(&mut params, &[group("y", &[1.0, 1.0])]),
        Err(Error::UnknownName { .. })
    ));
    // A non-finite gradient changes nothing.
    assert!(matches!(
        adam.step(&mut params, &[group("x", &[1.0, f64::NAN])]),
        Err(Error::InvalidValue { .. })
    ));
    assert_eq!(params[0].values, vec![1.0, 2.0]);
    assert_eq!(adam.count(), 0);
    adam.step(&mut params, &[group("x", &[1.0, 1.0])])?;
    // Later steps keep the shape of the first.
    let mut other = vec![group("x", &[1.0, 2.0, 3.0])];
    assert!(matches!(
        adam.step(&mut other, &[group("x", &[1.0, 1.0, 1.0])]),
        Err(Error::LengthMismatch { .. })
    ));
    assert_eq!(adam.count(), 1);
    adam.reset();
    adam.step(&mut other, &[group("x", &[1.0, 1.0, 1.0])])?;
    assert_eq!(adam.count(), 1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

/// Two three-branch HH cells connected both ways by ionotropic synapses, a stimulus, trainable
/// channel, geometry and synapse parameters.
fn small_net() -> Result<Network> {
    let cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    let mut net = Network::new(&[cell.clone(), cell])?;
    net.insert(HH)?;
    for (a, b) in [(0, 1), (1, 0)] {
        let pre = net.cell(a)?.branch(1)?.loc(1.0)?.selection();
        let post = net.cell(b)?.branch(2)?.loc(0.0)?.selection();
        connect(&mut net, &pre, &post, IonotropicSynapse)?;
    }
    net.set("IonotropicSynapse_gS", 0.02)?;
    net.cell(0)?
        .branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 3.0, 0.3, DT, 8.0, 0.0));
    for c in 0..2 {
        net.cell(c)?.branch(0)?.comp(0)?.record("v")?;
        net.cell(c)?.branch(2)?.comp(1)?.record("v")?;
    }
    net.synapse("IonotropicSynapse")?
        .record("IonotropicSynapse_s")?;
    // One value per branch of each cell for gNa, one radius per cell, one gS per edge, an
    // initial voltage for the whole network.
    net.cells().try_for_each(|_, c| {
        c.branch(1)?.make_trainable("HH_gNa", None)?;
        Ok(())
    })?;
    net.cells().try_for_each(|_, mut c| {
        c.make_trainable("radius", None)?;
        Ok(())
    })?;
    net.all_edges()
        .edge(0)?
        .make_trainable("IonotropicSynapse_gS", None)?;
    net.all_edges()
        .edge(1)?
        .make_trainable("IonotropicSynapse_gS", None)?;
    net.make_trainable("v", None)?;
    Ok(net)
}

/// Parameter set `k` of a batch: every value scaled a little differently.
fn params_k(net: &Module, k: usize) -> Vec<ParamGroup<f64>> {
    let mut p = net.get_parameters();
    for (i, g) in p.iter_mut().enumerate() {
        for (j, v) in g.values.iter_mut().enumerate() {
            *v *= 1.0 + 0.07 * ((k * 3 + i * 5 + j) % 7) as f64 / 7.0;
        }
    }
    p
}

#[test]
fn a_batch_of_parameter_sets_is_the_single_runs_bit_for_bit() -> Result<()> {
    let mut net = small_net()?;
    let sets: Vec<Vec<ParamGroup<f64>>> = (0..5).map(|k| params_k(&net, k)).collect();
    let states: Vec<Vec<ParamState<f64>>> = (0..5)
        .map(|k| {
            let ps = net.data_set("IonotropicSynapse_e_syn", -2.0 * k as f64, None)?;
            net.cell(1)?
                .data_set("HH_gK", 0.03 + 0.004 * k as f64, Some(ps))
        })
        .collect::<Result<_>>()?;
    let opts = IntegrateOptions::t_max(6.0);
    let single: Vec<Simulation<f64>> = (0..5)
        .map(|k| integrate_with(&net, &opts, &sets[k], Some(&states[k]), None))
        .collect::<Result<_>>()?;
    // The runs differ (the test would be empty otherwise).
    for k in 1..5 {
        assert_ne!(single[k].recordings, single[0].recordings);
    }
    for par in [Parallelism::Serial, pool(1), pool(2), Parallelism::Auto] {
        let o = IntegrateOptions {
            parallelism: par.clone(),
            ..opts.clone()
        };
        let batch = integrate_batch(&net, &o, &sets, Some(&states))?;
        assert_eq!(batch.len(), 5);
        for (b, s) in batch.iter().zip(&single) {
            assert_eq!(b.recordings, s.recordings, "{par:?}");
            assert_eq!(b.times, s.times);
        }
        // Without param_state, against integrate_with without it.
        let batch = integrate_batch(&net, &o, &sets[..2], None)?;
        let lone = integrate_with(&net, &opts, &sets[1], None, None)?;
        assert_eq!(batch[1].recordings, lone.recordings);
    }
    let empty: &[Vec<ParamGroup<f64>>] = &[];
    assert!(integrate_batch(&net, &opts, empty, None)?.is_empty());
    // In dual numbers, one direction per run: forward-mode derivatives, each the single run's.
    let seeded: Vec<Vec<ParamGroup<Dual64>>> = (0..3)
        .map(|d| {
            let mut p: Vec<ParamGroup<Dual64>> = sets[0].iter().map(|g| g.cast()).collect();
            p[d].values[0].eps = 1.0;
            p
        })
        .collect();
    let o = IntegrateOptions {
        parallelism: pool(2),
        ..opts.clone()
    };
    let batch = integrate_batch(&net, &o, &seeded, None)?;
    for (b, p) in batch.iter().zip(&seeded) {
        let lone = integrate_with(&net, &opts, p, None, None)?;
        assert!(
            b.recordings
                .iter()
                .zip(lone.recordings.iter())
                .all(|(x, y)| x.same(*y))
        );
        assert!(b.recordings.iter().any(|x| x.eps != 0.0));
    }
    Ok(())
}

#[test]
fn a_batch_of_data_stimuli_is_the_single_runs_bit_for_bit() -> Result<()> {
    let mut net = small_net()?;
    net.delete_trainables();
    let n = step_current(0.5, 3.0, 0.3, DT, 8.0, 0.0).len();
    let currents: Vec<Vec<f64>> = (0..4)
        .map(|k| step_current(1.0 + 0.5 * k as f64, 2.0, 0.1 * k as f64, DT, 8.0, 0.0))
        .collect();
    assert!(currents.iter().all(|c| c.len() == n));
    // Stimuli at one compartment of cell 1 and at the stimulated compartment of cell 0 (where
    // they add to the module's own stimulus).
    let batch: Vec<DataStimuli> = currents
        .iter()
        .map(|c| -> Result<DataStimuli> {
            let ds = net.cell(1)?.branch(1)?.comp(1)?.data_stimulate(c, None);
            Ok(net
                .cell(0)?
                .branch(0)?
                .comp(0)?
                .data_stimulate(&c[..], Some(ds)))
        })
        .collect::<Result<_>>()?;
    assert_eq!(batch[0].len(), 2);
    let opts = IntegrateOptions::t_max(6.0);
    let single: Vec<Simulation<f64>> = currents
        .iter()
        .map(|c| {
            let mut m = net.clone();
            m.cell(1)?.branch(1)?.comp(1)?.stimulate(c);
            m.cell(0)?.branch(0)?.comp(0)?.stimulate(c);
            integrate(&m, &opts)
        })
        .collect::<Result<_>>()?;
    assert_ne!(single[3].recordings, single[0].recordings);
    for par in [Parallelism::Serial, pool(1), pool(2)] {
        let o = IntegrateOptions {
            parallelism: par.clone(),
            ..opts.clone()
        };
        let sims = integrate_batch_stimuli(&net, &o, &batch)?;
        for (b, s) in sims.iter().zip(&single) {
            assert_eq!(b.recordings, s.recordings, "{par:?}");
        }
    }
    // Whole-module data_stimulate on a module without stimuli of its own.
    let mut plain = net.clone();
    plain.delete_stimuli();
    let ds = plain.data_stimulate(&currents[2], None);
    assert_eq!(ds.len(), plain.n_comps());
    let sims = integrate_batch_stimuli(&plain, &opts, &[DataStimuli::new(), ds])?;
    plain.stimulate(&currents[2]);
    assert_eq!(sims[1].recordings, integrate(&plain, &opts)?.recordings);
    plain.delete_stimuli();
    assert_eq!(sims[0].recordings, integrate(&plain, &opts)?.recordings);
    Ok(())
}

#[test]
fn bad_batches_are_typed_errors() -> Result<()> {
    let mut net = small_net()?;
    let opts = IntegrateOptions::t_max(1.0);
    let sets = vec![net.get_parameters(), net.get_parameters()];
    let ps = vec![net.data_set("HH_gK", 0.03, None)?];
    assert!(matches!(
        integrate_batch(&net, &opts, &sets, Some(&ps)),
        Err(Error::LengthMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));
    // The first failing run's error: a negative radius in set 1.
    let mut bad = sets.clone();
    let r = bad[1].iter().position(|g| g.key == "radius").unwrap();
    bad[1][r].values[0] = -1.0;
    assert!(matches!(
        integrate_batch(&net, &IntegrateOptions { parallelism: pool(2), ..opts.clone() }, &bad, None),
        Err(Error::InvalidValue { name, .. }) if name == "radius"
    ));
    // A parameter set with a missing group.
    assert!(matches!(
        integrate_batch(&net, &opts, &[sets[0][1..].to_vec()], None),
        Err(Error::LengthMismatch { .. })
    ));
    // Data stimuli shorter than the module's own stimulus.
    let short = net.cell(1)?.data_stimulate(&[0.1; 10], None);
    assert!(matches!(
        integrate_batch_stimuli(&net, &opts, &[short]),
        Err(Error::LengthMismatch { .. })
    ));
    // Data stimuli made on a larger module.
    let mut big = Network::new(&vec![Cell::default(); 40])?;
    let far = big.cell(39)?.data_stimulate(&[0.1; 321], None);
    assert!(matches!(
        integrate_batch_stimuli(&net, &opts, &[far]),
        Err(Error::IndexOutOfRange { .. })
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// write_trainables
// ---------------------------------------------------------------------------------------------

#[test]
fn write_trainables_then_integrate_is_integrate_with_the_parameters() -> Result<()> {
    let net = small_net()?;
    let params = params_k(&net, 3);
    let opts = IntegrateOptions::t_max(6.0);
    let with = integrate_with(&net, &opts, &params, None, None)?;
    assert_ne!(with.recordings, integrate(&net, &opts)?.recordings);
    let mut written = net.clone();
    written.write_trainables(&params)?;
    assert!(written.get_parameters().is_empty());
    assert!(written.trainables().is_empty());
    assert_eq!(integrate(&written, &opts)?.recordings, with.recordings);

    // The tables hold the values: gNa of branch 1 of each cell, the radius of each cell with
    // area, volume and loads recomputed as `set` does, gS per edge, v everywhere.
    let gna = params
        .iter()
        .filter(|g| g.key == "HH_gNa")
        .collect::<Vec<_>>();
    let radius: Vec<f64> = params
        .iter()
        .filter(|g| g.key == "radius")
        .map(|g| g.values[0])
        .collect();
    let mut w = written.clone();
    for c in 0..2 {
        assert_eq!(
            w.cell(c)?.branch(1)?.get("HH_gNa")?,
            vec![gna[c].values[0]; 2]
        );
        assert_eq!(w.cell(c)?.branch(0)?.get("HH_gNa")?, vec![0.12; 2]);
        assert_eq!(w.cell(c)?.get("radius")?, vec![radius[c]; 6]);
        let l = 10.0;
        assert_eq!(
            w.cell(c)?.get("area")?,
            vec![cylinder_area(l, radius[c]); 6]
        );
        assert_eq!(
            w.cell(c)?.get("volume")?,
            vec![cylinder_volume(l, radius[c]); 6]
        );
        assert_eq!(
            w.cell(c)?.get("resistive_load_in")?,
            vec![cylinder_resistive_load(l / 2.0, radius[c]); 6]
        );
    }
    let gs: Vec<f64> = params
        .iter()
        .filter(|g| g.key == "IonotropicSynapse_gS")
        .map(|g| g.values[0])
        .collect();
    assert_eq!(written.edge_column("IonotropicSynapse_gS")?, &gs[..]);
    let v = params.iter().find(|g| g.key == "v").unwrap().values[0];
    assert!(written.column("v")?.iter().all(|&x| x == v));

    // A second make_trainable after writing starts from the written values.
    let mut again = written.clone();
    again.cell(0)?.make_trainable("radius", None)?;
    assert_eq!(again.get_parameters()[0].values, vec![radius[0]]);

    // Overlapping trainables: the later one wins, in the run and in the table.
    let mut overlap = hh_cell()?;
    overlap.record("v")?;
    overlap.make_trainable("length", None)?;
    overlap.branch(2)?.make_trainable("length", None)?;
    let p = vec![group("length", &[12.0]), group("length", &[7.0])];
    let with = integrate_with(&overlap, &opts, &p, None, None)?;
    overlap.write_trainables(&p)?;
    assert_eq!(
        overlap.column("length")?,
        &[12.0, 12.0, 12.0, 12.0, 7.0, 7.0]
    );
    assert_eq!(integrate(&overlap, &opts)?.recordings, with.recordings);
    Ok(())
}

#[test]
fn bad_write_trainables_input_is_a_typed_error_and_changes_nothing() -> Result<()> {
    let net = small_net()?;
    let params = net.get_parameters();
    let mut m = net.clone();
    assert!(matches!(
        m.write_trainables(&params[1..]),
        Err(Error::LengthMismatch { .. })
    ));
    let mut short = params.clone();
    short[0].values.pop();
    assert!(matches!(
        m.write_trainables(&short),
        Err(Error::LengthMismatch { .. })
    ));
    let mut renamed = params.clone();
    renamed[0].key = "HH_gK".into();
    assert!(matches!(
        m.write_trainables(&renamed),
        Err(Error::LengthMismatch { .. })
    ));
    // A bad value late in the list: nothing is written, the trainables stay.
    let mut negative = params.clone();
    let r = negative.iter().rposition(|g| g.key == "radius").unwrap();
    negative[0].values[0] = 0.3;
    negative[r].values[0] = -2.0;
    assert!(matches!(
        m.write_trainables(&negative),
        Err(Error::InvalidValue { name, .. }) if name == "radius"
    ));
    let mut nan_gs = params.clone();
    let s = nan_gs
        .iter()
        .position(|g| g.key == "IonotropicSynapse_gS")
        .unwrap();
    nan_gs[s].values[0] = f64::NAN;
    assert!(matches!(
        m.write_trainables(&nan_gs),
        Err(Error::InvalidValue { .. })
    ));
    assert_eq!(m.get_parameters(), params);
    assert_eq!(m.column("HH_gNa")?, net.column("HH_gNa")?);
    assert_eq!(m.column("radius")?, net.column("radius")?);
    Ok(())
}

/// Mean squared distance of the recorded voltages to −65 mV.
struct ToRest;
impl Loss for ToRest {
    fn value<T: Scalar>(&self, rec: &nalgebra::DMatrix<T>) -> T {
        let mut sum = T::zero();
        for &x in rec.iter() {
            let d = x + T::from(65.0);
            sum += d * d;
        }
        sum / T::from(rec.len() as f64)
    }
}

/// `value_and_grad_batch` gives, entry by entry, exactly the single `value_and_grad` calls,
/// on any number of threads; the entries differ from each other.
#[test]
fn gradient_batch_equals_single_gradients() -> Result<()> {
    let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    cell.insert(HH)?;
    cell.branch(0)?
        .comp(0)?
        .stimulate(&step_current(0.5, 2.0, 0.2, 0.025, 3.0, 0.0));
    cell.branch(2)?.loc(1.0)?.record("v")?;
    cell.all_branches().make_trainable("HH_gNa", None)?;
    cell.make_trainable("radius", None)?;
    let sets: Vec<Vec<ParamGroup<f64>>> = (0..4)
        .map(|k| {
            let mut p = cell.get_parameters();
            p[0].values[k % 3] *= 1.0 + 0.1 * k as f64;
            p[1].values[0] = 0.8 + 0.1 * k as f64;
            p
        })
        .collect();
    let states: Vec<Vec<ParamState<f64>>> = (0..4)
        .map(|k| cell.data_set("HH_gK", 0.03 + 0.002 * k as f64, None))
        .collect::<Result<_>>()?;
    let opts = IntegrateOptions::t_max(3.0);
    let go = GradOptions::default();
    let single: Vec<Gradient> = (0..4)
        .map(|k| value_and_grad(&cell, &opts, &sets[k], Some(&states[k]), &ToRest, &go))
        .collect::<Result<_>>()?;
    assert!(single[0].value != single[1].value);
    assert!(single[0].params[0].values != single[3].params[0].values);
    for par in [Parallelism::Serial, pool(2)] {
        let o = IntegrateOptions {
            parallelism: par,
            ..opts.clone()
        };
        let batch = value_and_grad_batch(&cell, &o, &sets, Some(&states), &ToRest, &go)?;
        assert_eq!(batch, single);
    }
    assert!(matches!(
        value_and_grad_batch(&cell, &opts, &sets, Some(&states[..2]), &ToRest, &go),
        Err(Error::LengthMismatch { .. })
    ));
    Ok(())
}
