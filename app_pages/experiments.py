"""Experiments: the tutorials' comparisons, each a few clicks, run in the background and saved."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from aecore.analysis import experiments as ex
from aecore.analysis import recipes
from aecore.data import imported as datasets
from aecore.data.images import rows_grid, to_png
from aecore.models.colour import VARIANT_TEXT, VARIANTS, check_tutorial_size
from aecore.training.config import TrainConfig
from aecore.training.speed import eta_text
from app_pages.kit import background, charts, picker, safe, session, url, widgets

TABS = ["Latent size", "A/B", "AE vs PCA", "Classification", "One digit", "Stacked AE", "Your images"]
SWEEP_RANGES = {name: list(ks) for name, ks in recipes.LATENT_SETS.items()}


def main() -> None:
    st.title("Experiments")
    st.caption("The comparisons the autoencoder tutorials make. At each tab's defaults the comparison shows what its "
               "tutorial reports, in seconds (dense models) to about a minute (conv) on a 2-core CPU; each tab says how "
               "long its comparison takes on this server. Raise epochs and "
               "images for the full-size numbers. Finished results are saved on the server.")
    key, run = picker.run_picker(data=None)  # runs of every data set: the run-based tabs read the run's own set
    rds = session.dataset(run.config.dataset) if run is not None else None
    tabs = url.tabs(TABS, key="tab", param="tab")
    sections = [latent_size, ab, ae_vs_pca, classification, one_digit, stacked, your_images]
    for tab, section in zip(tabs, sections):
        if tab.open:  # only the open tab computes anything
            with tab:
                section(key, run, rds)


# ---- shared pieces -----------------------------------------------------------------------------------------
def work_text(kind: str, params: dict) -> str:
    """ "about 40 s of work on this server": the engine's one estimate for the job these settings would queue."""
    try:
        seconds = session.engine().estimate_s(kind, params)
    except ValueError:  # settings the job would refuse (ConfigError, KindError): the page says why where it checks
        return "time unknown"
    return f"{eta_text(seconds)} of work on this server"


def data_sets() -> list[str]:
    return ["mnist"] + datasets.names()  # data sets a comparison can train on


def training_settings(prefix: str, epochs: int, limit: int | None, batch: int = 128) -> dict:
    """Data set, epochs, images, batch and seed of a comparison that trains; the defaults are its recipe's
    (aecore.analysis.recipes: the same as the command line's), kept per `prefix` (a tab and its model)."""
    c0, c1, c2, c3, c4 = st.columns(5)
    d = url.control(c0.selectbox, "Data set", data_sets(), key=f"{prefix.split(':')[0]}_data", param="data",
                    default="mnist", help="MNIST, or a set added on the Data sets page")
    e = url.control(c1.number_input, "Epochs", key=f"{prefix}_epochs", param="epochs", default=epochs, lo=1, hi=200)
    n = url.control(c2.number_input, "Training images (0 = all)", key=f"{prefix}_limit", param="limit",
                    default=limit or 0, lo=0, hi=60000, step=5000)
    b = url.control(c3.number_input, "Batch size", key=f"{prefix}_batch_{d}", param="batch",
                    default=batch if session.bundled_mnist(d) else 32, lo=8, hi=4096)
    s = url.control(c4.number_input, "Seed", key=f"{prefix}_seed", default=0, lo=0, hi=10**6)
    return dict(dataset=d, epochs=int(e), limit=int(n) or None, batch_size=int(b), seed=int(s))


@st.cache_data(show_spinner=False, max_entries=512)
def _why_not_buildable(config: dict, image_shape: tuple) -> str | None:
    """build_model's objection to a resolved config on images of image_shape, or None (cached: the tabs ask on
    every rerun, and the stacked AE's MLPs take tens of milliseconds to build)."""
    from aecore.models.registry import build_model

    r = TrainConfig.from_dict(config)
    try:
        build_model(r.model, r.latent, r.hidden_act, r.out_act, r.upsample, image_shape, r.width)
    except ValueError as e:  # ModelError and ConfigError are ValueErrors
        return str(e)
    return None


def trainable(configs) -> str | None:
    """Why these configs cannot train on their data set (e.g. a model for 28x28 digits only), or None."""
    for c in configs:
        try:
            r = c.resolved()
        except ValueError as e:
            return str(e)
        why = _why_not_buildable(r.to_dict(), tuple(session.dataset(r.dataset).image_shape))
        if why:
            return why
    return None


def recon_rows(res, labels) -> None:
    rows = [("originals", res.images["originals"])] + [(lab, res.images[f"recon:{lab}"]) for lab in labels
                                                       if f"recon:{lab}" in res.images]
    st.image(to_png(rows_grid([r for _, r in rows]), scale=3),
             caption="rows: " + " / ".join(safe.plain(lab) for lab, _ in rows), output_format="PNG")


def curves_figure(curves: list[dict]) -> go.Figure:
    fig = go.Figure()
    for i, label in enumerate(dict.fromkeys(r["model"] for r in curves)):
        rs = [r for r in curves if r["model"] == label]
        color = px.colors.qualitative.Set1[i % 9]
        name = safe.label(label)
        fig.add_scatter(x=[r["epoch"] for r in rs], y=[r["train_loss"] for r in rs], name=f"{name} · train",
                        line=dict(color=color))
        fig.add_scatter(x=[r["epoch"] for r in rs], y=[r["val_loss"] for r in rs], name=f"{name} · validation",
                        line=dict(color=color, dash="dash"))
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss per pixel", height=360, margin=dict(l=10, r=10, t=30, b=10))
    return charts.epoch_axis(fig)


# ---- 1. latent size sweep ----------------------------------------------------------------------------------
def latent_size(key, run, rds) -> None:
    st.markdown("Train the same model at several code sizes *k*: how much does each extra number buy? "
                "PCA with the same *k* is the linear baseline.")
    c1, c2 = st.columns(2)
    model = url.control(c1.selectbox, "Model", ["dense", "linear", "conv", "mlp-deep"], key="sweep_model",
                        param="sweep_model", default="dense")
    recipe = recipes.sweep_defaults(model)
    which = url.control(c2.radio, "Latent sizes", list(SWEEP_RANGES), key=f"sweep_range_{model}", param="sweep_range",
                        default=recipe.latent_set, horizontal=True)
    settings = training_settings(f"sweep:{model}", recipe.epochs, recipe.images, recipe.batch)
    base = recipe.config(**settings)
    latents = SWEEP_RANGES[which]
    params = {"base": base.to_dict(), "latents": latents}
    st.caption(f"{len(latents)} trainings: {work_text('sweep', params)} (from this server's recent training speed; "
               f"a GPU is faster, a busy class server slower). At these defaults: {recipe.shows}.")
    why = trainable([base])
    if why:
        st.info(f"Cannot sweep this model on {settings['dataset']}: {safe.plain(why)}.")
        return
    res = background.background_experiment("sweep", params)
    if res is None or not res.tables["sweep"]:
        return
    rows = res.tables["sweep"]
    fig = go.Figure()
    for col, name in [("train_loss", "train loss"), ("test_mse", "test MSE"), ("pca_test_mse", "PCA test MSE")]:
        fig.add_scatter(x=[r["latent"] for r in rows], y=[r[col] for r in rows], name=name, mode="lines+markers")
    fig.update_layout(xaxis_title="latent size k", yaxis_title="MSE per pixel", height=360,
                      margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(charts.integer_axis(fig, [r["latent"] for r in rows]), key="sweep_chart")
    widgets.result_table(res, "sweep")
    ks = [r["latent"] for r in rows]
    st.image(to_png(rows_grid([res.images["originals"]] + list(res.images["recons"])), scale=3),
             caption="top: originals · then one row per k: " + ", ".join(map(str, ks)), output_format="PNG")


# ---- 2. A/B ------------------------------------------------------------------------------------------------
def ab(key, run, rds) -> None:
    preset = url.control(st.selectbox, "Comparison", list(ex.AB_PRESETS), key="ab_preset", param="ab_preset",
                         default=next(iter(ex.AB_PRESETS)))
    recipe = recipes.ab_recipe(preset)
    settings = training_settings(f"ab:{preset}", recipe.epochs, recipe.images, recipe.batch)
    configs = ex.ab_configs(preset, **settings)
    params = {"configs": {label: c.to_dict() for label, c in configs.items()}}
    st.caption(" vs ".join(f"**{safe.plain(label)}**: {safe.plain(c.describe())}" for label, c in configs.items())
               + f" · {work_text('compare', params)}. At these defaults: {recipe.shows}.")
    why = trainable(configs.values())
    if why:
        st.info(f"This comparison cannot train on {settings['dataset']}: {safe.plain(why)}.")
        return
    res = background.background_experiment("compare", params)
    if res is None or not res.tables["final"]:
        return
    st.plotly_chart(curves_figure(res.tables["curves"]), key="ab_curves")
    widgets.table_csv(res.tables["curves"], "compare-curves", key="csv_ab_curves")
    widgets.result_table(res, "final")
    recon_rows(res, list(configs))


# ---- 3. AE vs PCA ------------------------------------------------------------------------------------------
def ae_vs_pca(key, run, rds) -> None:
    st.markdown("The autoencoder against PCA with the same number of components: error, reconstructions, "
                "and the 2-D codes of both (the figure of Hinton & Salakhutdinov, 2006).")
    if run is None or run.model.latent_dim > 256:
        st.info("Pick a run with a code of at most 256 numbers in the sidebar.")
        return
    res = background.computed("ae_vs_pca", {"run": key, "n_points": 2000})
    s = res.summary
    m1, m2 = st.columns(2)
    m1.metric(f"Autoencoder test MSE (k={s['k']})", f"{s['ae_test_mse']:.5f}")
    m2.metric(f"PCA test MSE (k={s['k']})", f"{s['pca_test_mse']:.5f}",
              delta=f"{s['pca_test_mse'] - s['ae_test_mse']:+.5f} vs AE", delta_color="off")
    widgets.result_table(res, "errors")
    st.image(to_png(rows_grid([res.images["originals"], res.images["ae"], res.images["pca"]]), scale=3),
             caption="top: originals · middle: autoencoder · bottom: PCA", output_format="PNG")
    codes = res.tables["codes"]
    fig = make_subplots(1, 2, subplot_titles=[f"autoencoder codes ({s['ae_2d']})", "PCA, 2 components"])
    for d in range(rds.n_classes):
        pts = [c for c in codes if c["digit"] == d]
        label = safe.label(rds.class_names[d])
        for col, (xk, yk) in enumerate([("ae_x", "ae_y"), ("pca_x", "pca_y")], 1):
            fig.add_scatter(x=[p[xk] for p in pts], y=[p[yk] for p in pts], mode="markers", name=label,
                            legendgroup=label, showlegend=col == 1,
                            marker=dict(size=4, color=charts.class_colour(d, rds.n_classes)), row=1, col=col)
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=40, b=10),
                      legend_title_text=rds.class_word)
    st.plotly_chart(fig, key="ae_pca_codes")
    widgets.result_table(res, "codes")


# ---- 4. features for classification ------------------------------------------------------------------------
def classification(key, run, rds) -> None:
    st.markdown("How useful are the codes as features? Logistic regression and 5-nearest-neighbours trained on a few "
                "labelled images, on the latent codes vs PCA codes of the same size vs raw pixels.")
    if run is None:
        st.info("Pick a run in the sidebar.")
        return
    steps = [v for v in (100, 300, 1000, 3000, 10000) if v <= len(rds.train)] or [len(rds.train)]
    labels = url.control(st.select_slider, "Labelled training images", steps, key=f"probe_labels_{rds.name}",
                         default=min(1000, steps[-1]))
    res = background.computed("probe", {"run": key, "labels": int(labels)})
    rows = res.tables["probe"]
    fig = go.Figure()
    for col, name in [("logreg_acc", "logistic regression"), ("knn_acc", "5-NN")]:
        fig.add_bar(x=[f"{r['features']} ({r['dims']}-D)" for r in rows], y=[r[col] for r in rows], name=name,
                    text=[f"{r[col]:.1%}" for r in rows])
    fig.update_layout(barmode="group", yaxis_title="test accuracy", yaxis_range=[0, 1], height=360,
                      margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="probe_chart")
    widgets.result_table(res, "probe", f"trained on {labels} labelled images, tested on {min(len(rds.test), 10000):,} "
                                       f"test images; chance is {1 / rds.n_classes:.0%}")
    st.markdown("**Fine-tuning (semi-supervised):** a classifier head on the code, first with the encoder frozen, "
                "then training encoder and head together.")
    f1, f2 = st.columns(2)
    ft_epochs = url.control(f1.number_input, "Epochs", key="ft_epochs", default=5, lo=1, hi=50)
    ft_steps = [v for v in (100, 300, 1000, 3000) if v <= len(rds.train)] or [len(rds.train)]
    ft_labels = url.control(f2.select_slider, "Labels", ft_steps, key=f"ft_labels_{rds.name}",
                            default=min(1000, ft_steps[-1]))
    res = background.background_experiment("finetune", {"run": key, "labels": ft_labels, "epochs": int(ft_epochs)},
                                           button="▶ Fine-tune")
    if res is not None:
        widgets.result_table(res, "finetune")


# ---- 5. one digit only -------------------------------------------------------------------------------------
def one_digit(key, run, rds) -> None:
    st.markdown("Train on one digit only, then reconstruct all of them: the model can only draw what it has seen, "
                "so a high reconstruction error flags an *anomaly*. ROC AUC measures how well the error separates them.")
    one_ds = rds or session.dataset()
    mnist = session.bundled_mnist(one_ds)  # the zoo's one-digit runs, the digits' batch size
    unit, units = one_ds.class_word, one_ds.class_words
    name = lambda c: safe.plain(one_ds.class_names[c])  # noqa: E731
    with st.expander("Train a model on one digit" if mnist else f"Train a model on one class of {one_ds.name}"):
        t1, t2, t3 = st.columns(3)
        d = url.control(t1.selectbox, unit.capitalize(), list(range(one_ds.n_classes)), key=f"one_digit_{one_ds.name}",
                        default=0, format_func=lambda c: one_ds.class_names[c])
        e = url.control(t2.number_input, "Epochs", key="one_epochs", default=3, lo=1, hi=50)
        if t3.button("▶ Train", key="one_train"):
            cfg = TrainConfig(model="conv", latent=16, epochs=int(e), digits=(d,), lr=2e-3, dataset=one_ds.name,
                              batch_size=256 if mnist else 16)
            if background.queue_training(cfg, name=f"only {one_ds.class_names[d]}: {cfg.describe()}"):
                st.success("Queued: follow it on the Train page; it then appears in the run picker.")
    if run is None:
        st.info("Pick a run in the sidebar.")
        return
    every = list(range(rds.n_classes))
    normal = url.control(st.multiselect, f"Normal {units}", every, key=f"normal_{rds.name}",
                         default=[c for c in (run.config.digits or [1]) if c in every],
                         format_func=lambda c: rds.class_names[c])
    if not normal or len(normal) == rds.n_classes:
        st.warning(f"Pick between one and {rds.n_classes - 1} normal {units}.")
        return
    trained = tuple(run.config.digits or range(rds.n_classes))
    if len(trained) != 1:
        which = ((f"all ten digits" if mnist else f"all {rds.n_classes} classes") if len(trained) == rds.n_classes
                 else f"{units} " + ", ".join(name(c) for c in trained))
        st.warning(f"**{safe.plain(run.label())} was trained on {which}, not on one {unit} only.** Every {unit} "
                   f"it saw is “normal” to it, so the AUC below does not measure anomaly detection: it only says "
                   f"how much better this model happens to reconstruct the {units} picked as normal than the "
                   "others. " + ("Pick a one-digit run in the sidebar (e.g. zoo · conv-k16-only1) or train one above."
                                 if mnist else "Train a one-class run above and pick it."))
    elif set(normal) != set(trained):
        st.warning(f"{safe.plain(run.label())} was trained on the {unit} {name(trained[0])} only, but the normal "
                   f"{units} picked here are {', '.join(name(c) for c in normal)}. The AUC then scores {units} the "
                   f"model never saw as “normal”; pick {name(trained[0])} as the normal {unit} to test anomaly detection.")
    res = background.computed("anomaly", {"run": key, "normal": sorted(int(d) for d in normal)})
    st.metric(f"ROC AUC: normal vs all other {units}", f"{res.summary['auc']:.3f}")
    st.image(to_png(rows_grid([res.images["originals"], res.images["recons"]]), scale=3),
             caption=f"one test image of each {unit} (top) and its reconstruction (bottom)", output_format="PNG")
    errs = res.tables["errors"]
    label = lambda c: safe.label(rds.class_names[c])  # noqa: E731
    order = [label(c) for c in range(rds.n_classes)]
    fig = px.box([{"digit": label(r["digit"]), "mse": r["mse"]} for r in errs], x="digit", y="mse", color="digit",
                 color_discrete_map={label(c): charts.class_colour(c, rds.n_classes) for c in range(rds.n_classes)},
                 category_orders={"digit": order}, points=False, height=380,
                 labels={"mse": "reconstruction MSE", "digit": unit})
    fig.update_layout(showlegend=False, margin=dict(l=10, r=10, t=30, b=10))
    charts.digit_axis(fig, categories=order)
    st.plotly_chart(fig, key="anomaly_box")
    widgets.result_table(res, "per_digit")
    widgets.table_csv(errs, "anomaly-errors-per-image", key="csv_anomaly_errors")


# ---- 6. stacked AE -----------------------------------------------------------------------------------------
def stacked(key, run, rds) -> None:
    st.markdown("A deep MLP trained end to end, and the same MLP first pretrained greedily one layer pair at a time "
                "(a stacked autoencoder), then fine-tuned.")
    c1, c2, c3 = st.columns(3)
    model = url.control(c1.selectbox, "Model", ["mlp-deep", "mlp-hinton"], key="stack_model", default="mlp-deep")
    recipe = recipes.stacked_defaults(model)
    k = url.control(c2.number_input, "Latent size", key=f"stack_k_{model}", default=recipe.latent, lo=1, hi=256)
    pre = url.control(c3.number_input, "Pretraining epochs per layer", key=f"stack_pre_{model}", default=recipe.pretrain,
                      lo=1, hi=20)
    settings = training_settings(f"stack:{model}", recipe.epochs, recipe.images, recipe.batch)
    base = recipe.config(latent=int(k), **settings)
    params = {"base": base.to_dict(), "pretrain": int(pre)}
    st.caption(f"Sigmoid units, as in Hinton & Salakhutdinov 2006 · {work_text('stacked', params)}. At these "
               f"defaults: {recipe.shows}.")
    why = trainable([base])
    if why:
        st.info(f"The stacked AE's deep MLPs cannot train on {settings['dataset']}: {safe.plain(why)}.")
        return
    res = background.background_experiment("stacked", params)
    if res is None or not res.tables["final"]:
        return
    st.plotly_chart(curves_figure(res.tables["curves"]), key="stack_curves")
    widgets.table_csv(res.tables["curves"], "stacked-curves", key="csv_stack_curves")
    widgets.result_table(res, "final")
    recon_rows(res, [r["model"] for r in res.tables["final"]])


# ---- 7. your images: classes from a run's code, the conv-AE tutorial's comparison --------------------------
def your_images(key, run, rds) -> None:
    st.markdown("On MNIST or on a data set added on the **Data sets** page: a classifier head on a run's code, "
                "fine-tuned with its encoder (accuracy overall and per class), and the conv-AE tutorial's Flowers102 "
                "experiment as one comparison.")
    classify_with_a_run()
    the_tutorial_comparison()


def classify_with_a_run() -> None:
    st.subheader("Classify with a run's encoder")
    ckey, crun = picker.run_picker("Run", key="run_cls", sidebar=False, data=None)
    if crun is None:
        return
    cds = session.dataset(crun.config.dataset)
    f1, f2, f3 = st.columns(3)
    c_epochs = url.control(f1.number_input, "Epochs", key="cls_epochs", default=5, lo=1, hi=100)
    c_labels = url.control(f2.select_slider, "Labelled training images", [100, 300, 1000, 3000, 0], key="cls_labels",
                           default=0, format_func=lambda n: "all" if n == 0 else f"{n:,}")
    freeze = url.control(f3.checkbox, "Encoder frozen (train the head only)", key="cls_freeze", default=False)
    params = {"run": ckey, "epochs": int(c_epochs), "labels": int(c_labels) or None, "seed": 0, "freeze": bool(freeze)}
    res = background.background_experiment("classify", params, button="▶ Fine-tune a classifier")
    if res is None:
        return
    r = res.tables["accuracy"][0]
    m1, m2, m3 = st.columns(3)
    m1.metric("Test accuracy", f"{r['test_acc']:.1%}")
    m2.metric("Training accuracy", f"{r['train_acc']:.1%}")
    m3.metric("Chance", f"{r['chance']:.1%}", help=f"one class in {cds.n_classes}")
    per = res.tables["per_class"]
    names = [safe.label(p["name"]) for p in per]
    fig = go.Figure(go.Bar(x=names, y=[p["test_acc"] for p in per],
                           text=[f"{p['test_acc']:.0%}" if p["test_acc"] is not None else "" for p in per]))
    fig.add_hline(y=r["chance"], line_dash="dot", annotation_text="chance")
    fig.update_layout(title="Test accuracy per class", yaxis_range=[0, 1], xaxis_type="category",
                      yaxis_title="test accuracy", height=340, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key="cls_per_class")
    heat = px.imshow(res.images["confusion"], x=names, y=names, labels=dict(x="predicted", y="true class", color="images"),
                     text_auto=len(names) <= 20, color_continuous_scale="Blues", height=420,
                     title="Which class each test image was given")
    heat.update_layout(margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(heat, key="cls_confusion")
    widgets.result_table(res, "per_class")


def the_tutorial_comparison() -> None:
    st.subheader("The conv-AE tutorial's comparison")
    st.caption("Four versions of the tutorial's colour autoencoder, each trained, then fine-tuned with its "
               "classifier head: " + " → ".join(f"**{v}** ({VARIANT_TEXT[v]})" for v in VARIANTS) + ". The "
               "tutorial reports about 15% for the base network and about 26% with the upsampling decoder on "
               "Flowers102 (100 + 60 epochs at 100×100).")
    here = data_sets()
    t0, t1, t2, t3 = st.columns(4)
    tname = url.control(t0.selectbox, "Data set", here, key="tut_data", param="dataset", default=here[-1])
    d = recipes.colour_defaults(len(session.dataset(tname).train))  # counted in steps: epochs follow the set's size
    ae_ep = url.control(t1.number_input, "Autoencoder epochs", key=f"tut_ae_{tname}", default=d["ae_epochs"], lo=1,
                        hi=500)
    clf_ep = url.control(t2.number_input, "Classifier epochs", key=f"tut_clf_{tname}", default=d["clf_epochs"], lo=1,
                         hi=500)
    lim = url.control(t3.number_input, "Training images (0 = all)", key=f"tut_limit_{tname}", default=d["limit"] or 0,
                      lo=0, hi=60000, step=500)
    picked = url.control(st.multiselect, "Variants", list(VARIANTS), key="tut_variants", default=list(VARIANTS),
                         format_func=lambda v: f"{v}: {VARIANT_TEXT[v]}")
    size = session.dataset(tname).image_shape[1]
    try:
        check_tutorial_size(size)  # the tutorial's models take this image size: say so before anything is queued
    except ValueError as e:
        st.warning(f"The tutorial's models cannot take {size}×{size} images: {safe.plain(str(e))}")
        return
    if not picked:
        return
    params = {"dataset": tname, "variants": [v for v in VARIANTS if v in picked], "ae_epochs": int(ae_ep),
              "clf_epochs": int(clf_ep), "seed": 0, "limit": int(lim) or None, "labels": d["labels"],
              "ae_batch": d["ae_batch"], "clf_batch": d["clf_batch"], "lr": d["lr"]}
    st.caption(f"Batches of {d['ae_batch']} (autoencoder) and {d['clf_batch']} (classifier), Adam {d['lr']:g}: "
               f"{work_text('tutorial', params)}.")
    res = background.background_experiment("tutorial", params)
    if res is None or not res.tables["accuracy"]:
        return
    rows = res.tables["accuracy"]
    fig = go.Figure(go.Bar(x=[r["variant"] for r in rows], y=[r["test_acc"] for r in rows],
                           text=[f"{r['test_acc']:.1%}" for r in rows], name="test"))
    fig.add_scatter(x=[r["variant"] for r in rows], y=[r["train_acc"] for r in rows], mode="markers",
                    name="training", marker=dict(size=10, symbol="diamond"))
    fig.add_hline(y=rows[0]["chance"], line_dash="dot", annotation_text="chance")
    fig.update_layout(yaxis_title="accuracy", yaxis_range=[0, 1], height=340, xaxis_type="category",
                      margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="tut_chart")
    widgets.result_table(res, "accuracy")
    widgets.table_csv(res.tables["per_class"], "tutorial-per-class", key="csv_tut_per_class")
    recon_rows(res, [r["variant"] for r in rows])


main()
