"""Experiments: the tutorials' comparisons, each a few clicks, run in the background and saved."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from aecore.analysis import experiments as ex
from aecore.data import imported as datasets
from aecore.data.images import rows_grid, to_png
from aecore.models.colour import VARIANT_TEXT, VARIANTS, check_tutorial_size
from aecore.training.config import TrainConfig
from app_pages.kit import background, charts, picker, safe, session, url, widgets

st.title("Experiments")
st.caption("The comparisons the autoencoder tutorials make. The small defaults take seconds (dense models) to about a "
           "minute (conv) on a 2-core CPU; raise epochs and images for the full-size numbers. Finished results are saved "
           "on the server.")

# Wall seconds of the latent sweep's defaults (k = 1..10, 2 epochs, 10,000 images, batch 128) on this project's
# 2-core CPU: aecore.analysis.experiments.latent_sweep timed whole (training, test error and PCA at each k).
SWEEP_SECONDS = {"linear": 3.5, "dense": 3.4, "mlp-deep": 5.7, "conv": 44.1}


def sweep_eta(model: str, n_latents: int, epochs: int, images: int | None) -> str:
    """About how long a sweep takes on a 2-core CPU, scaled from the measured defaults."""
    s = SWEEP_SECONDS[model] * n_latents / 10 * epochs / 2 * (images or 60000) / 10000
    return "a few seconds" if s < 5 else f"about {s:.0f} s" if s < 90 else f"about {s / 60:.0f} min"


key, run = picker.run_picker(data=None)  # runs of every data set: the run-based tabs read the run's own set
rds = session.dataset(run.config.dataset) if run is not None else None
mnist_run = rds is None or rds.name == "mnist"
HERE = ["mnist"] + datasets.names()  # data sets a comparison can train on

TABS = ["Latent size", "A/B", "AE vs PCA", "Classification", "One digit", "Stacked AE", "Your images"]
tabs = st.tabs(TABS, key="tab", bind="query-params", on_change="rerun")


def training_settings(prefix: str, epochs: int = 2, limit: int = 10000):
    c0, c1, c2, c3, c4 = st.columns(5)
    d = c0.selectbox("Data set", HERE, key=f"{prefix}_data", help="MNIST, or a set added on the Data sets page")
    e = c1.number_input("Epochs", 1, 200, epochs, key=f"{prefix}_epochs")
    n = c2.number_input("Training images (0 = all)", 0, 60000, limit, step=5000, key=f"{prefix}_limit")
    b = c3.number_input("Batch size", 8, 4096, 128 if d == "mnist" else 32, key=f"{prefix}_batch_{d}")
    s = c4.number_input("Seed", 0, 10**6, 0, key=f"{prefix}_seed")
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


def recon_rows(res, labels):
    rows = [("originals", res.images["originals"])] + [(lab, res.images[f"recon:{lab}"]) for lab in labels if f"recon:{lab}" in res.images]
    st.image(to_png(rows_grid([r for _, r in rows]), scale=3), caption="rows: " + " / ".join(lab for lab, _ in rows))


def curves_figure(curves: list[dict]) -> go.Figure:
    fig = go.Figure()
    for i, label in enumerate(dict.fromkeys(r["model"] for r in curves)):
        rs = [r for r in curves if r["model"] == label]
        color = px.colors.qualitative.Set1[i % 9]
        fig.add_scatter(x=[r["epoch"] for r in rs], y=[r["train_loss"] for r in rs], name=f"{label} · train", line=dict(color=color))
        fig.add_scatter(x=[r["epoch"] for r in rs], y=[r["val_loss"] for r in rs], name=f"{label} · validation",
                        line=dict(color=color, dash="dash"))
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss per pixel", height=360, margin=dict(l=10, r=10, t=30, b=10))
    return charts.epoch_axis(fig)


# ---- 1. latent size sweep -----------------------------------------------------------------------
if tabs[0].open:
    with tabs[0]:
        st.markdown("Train the same model at several code sizes *k*: how much does each extra number buy? "
                    "PCA with the same *k* is the linear baseline.")
        c1, c2 = st.columns(2)
        model = c1.selectbox("Model", ["dense", "linear", "conv", "mlp-deep"], key="sweep_model", bind="query-params")
        ranges = {"1..10": list(range(1, 11)), "10..100 step 10": list(range(10, 101, 10)), "2, 8, 32": [2, 8, 32]}
        which = c2.radio("Latent sizes", list(ranges), horizontal=True, key="sweep_range", bind="query-params")
        settings = training_settings("sweep", epochs=2, limit=10000)
        base = TrainConfig(model=model, **settings)
        latents = ranges[which]
        st.caption(f"{len(latents)} trainings: {sweep_eta(model, len(latents), settings['epochs'], settings['limit'])} on a "
                   "2-core CPU when the server is otherwise idle (measured; a GPU is faster, a busy class server slower).")
        params = {"base": base.to_dict(), "latents": latents}
        why = trainable([base])
        res = None if why else background.background_experiment("sweep", params)
        if why:
            st.info(f"Cannot sweep this model on {settings['dataset']}: {why}.")
        if res is not None and res.tables["sweep"]:
            rows = res.tables["sweep"]
            fig = go.Figure()
            for col, name in [("train_loss", "train loss"), ("test_mse", "test MSE"), ("pca_test_mse", "PCA test MSE")]:
                fig.add_scatter(x=[r["latent"] for r in rows], y=[r[col] for r in rows], name=name, mode="lines+markers")
            fig.update_layout(xaxis_title="latent size k", yaxis_title="MSE per pixel", height=360, margin=dict(l=10, r=10, t=30, b=10))
            st.plotly_chart(charts.integer_axis(fig, [r["latent"] for r in rows]), key="sweep_chart")
            widgets.result_table(res, "sweep")
            ks = [r["latent"] for r in rows]
            st.image(to_png(rows_grid([res.images["originals"]] + list(res.images["recons"])), scale=3),
                     caption="top: originals · then one row per k: " + ", ".join(map(str, ks)))

# ---- 2. A/B ------------------------------------------------------------------------------------
if tabs[1].open:
    with tabs[1]:
        preset = st.selectbox("Comparison", list(ex.AB_PRESETS), key="ab_preset", bind="query-params")
        settings = training_settings("ab", epochs=3, limit=10000)
        configs = ex.ab_configs(preset, **settings)
        st.caption(" vs ".join(f"**{label}**: {c.describe()}" for label, c in configs.items()))
        params = {"configs": {label: c.to_dict() for label, c in configs.items()}}
        why = trainable(configs.values())
        res = None if why else background.background_experiment("compare", params)
        if why:
            st.info(f"This comparison cannot train on {settings['dataset']}: {why}.")
        if res is not None and res.tables["final"]:
            st.plotly_chart(curves_figure(res.tables["curves"]), key="ab_curves")
            widgets.table_csv(res.tables["curves"], "compare-curves", key="csv_ab_curves")
            widgets.result_table(res, "final")
            recon_rows(res, list(configs))

# ---- 3. AE vs PCA -------------------------------------------------------------------------------
if tabs[2].open:
    with tabs[2]:
        st.markdown("The autoencoder against PCA with the same number of components: error, reconstructions, "
                    "and the 2-D codes of both (the figure of Hinton & Salakhutdinov, 2006).")
        if run is None or run.model.latent_dim > 256:
            st.info("Pick a run with a code of at most 256 numbers in the sidebar.")
        else:
            res = background.computed("ae_vs_pca", {"run": key, "n_points": 2000})
            s = res.summary
            m1, m2 = st.columns(2)
            m1.metric(f"Autoencoder test MSE (k={s['k']})", f"{s['ae_test_mse']:.5f}")
            m2.metric(f"PCA test MSE (k={s['k']})", f"{s['pca_test_mse']:.5f}",
                      delta=f"{s['pca_test_mse'] - s['ae_test_mse']:+.5f} vs AE", delta_color="off")
            widgets.result_table(res, "errors")
            st.image(to_png(rows_grid([res.images["originals"], res.images["ae"], res.images["pca"]]), scale=3),
                     caption="top: originals · middle: autoencoder · bottom: PCA")
            codes = res.tables["codes"]
            fig = make_subplots(1, 2, subplot_titles=[f"autoencoder codes ({s['ae_2d']})", "PCA, 2 components"])
            for d in range(rds.n_classes):
                pts = [c for c in codes if c["digit"] == d]
                label = str(d) if mnist_run else safe.plain(rds.class_names[d])
                for col, (xk, yk) in enumerate([("ae_x", "ae_y"), ("pca_x", "pca_y")], 1):
                    fig.add_scatter(x=[p[xk] for p in pts], y=[p[yk] for p in pts], mode="markers", name=label,
                                    legendgroup=label, showlegend=col == 1,
                                    marker=dict(size=4, color=charts.class_colour(d, rds.n_classes)), row=1, col=col)
            fig.update_layout(height=460, margin=dict(l=10, r=10, t=40, b=10),
                              legend_title_text="digit" if mnist_run else "class")
            st.plotly_chart(fig, key="ae_pca_codes")
            widgets.result_table(res, "codes")

# ---- 4. features for classification ------------------------------------------------------------
if tabs[3].open:
    with tabs[3]:
        st.markdown("How useful are the codes as features? Logistic regression and 5-nearest-neighbours trained on a few "
                    "labelled images, on the latent codes vs PCA codes of the same size vs raw pixels.")
        if run is None:
            st.info("Pick a run in the sidebar.")
        else:
            steps = [v for v in (100, 300, 1000, 3000, 10000) if v <= len(rds.train)] or [len(rds.train)]
            labels = st.select_slider("Labelled training images", steps, min(1000, steps[-1]), key=f"probe_labels_{rds.name}")
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
            ft_epochs = f1.number_input("Epochs", 1, 50, 5, key="ft_epochs")
            ft_steps = [v for v in (100, 300, 1000, 3000) if v <= len(rds.train)] or [len(rds.train)]
            ft_labels = f2.select_slider("Labels", ft_steps, min(1000, ft_steps[-1]), key=f"ft_labels_{rds.name}")
            params = {"run": key, "labels": ft_labels, "epochs": int(ft_epochs)}
            res = background.background_experiment("finetune", params, button="▶ Fine-tune")
            if res is not None:
                widgets.result_table(res, "finetune")

# ---- 5. one digit only --------------------------------------------------------------------------
if tabs[4].open:
    with tabs[4]:
        st.markdown("Train on one digit only, then reconstruct all of them: the model can only draw what it has seen, "
                    "so a high reconstruction error flags an *anomaly*. ROC AUC measures how well the error separates them.")
        one_ds = rds or session.dataset()
        cls = (lambda c: str(c)) if mnist_run else (lambda c: safe.plain(one_ds.class_names[c]))
        with st.expander("Train a model on one digit" if mnist_run else f"Train a model on one class of {one_ds.name}"):
            t1, t2, t3 = st.columns(3)
            d = t1.selectbox("Digit" if mnist_run else "Class", list(range(one_ds.n_classes)), key=f"one_digit_{one_ds.name}",
                             format_func=cls)
            e = t2.number_input("Epochs", 1, 50, 3, key="one_epochs")
            if t3.button("▶ Train", key="one_train"):
                cfg = TrainConfig(model="conv", latent=16, epochs=int(e), digits=(d,), lr=2e-3, dataset=one_ds.name,
                                  batch_size=256 if mnist_run else 16)
                if background.queue_training(cfg, name=f"only {d}: {cfg.describe()}"):
                    st.success("Queued: follow it on the Train page; it then appears in the run picker.")
        if run is None:
            st.info("Pick a run in the sidebar.")
        else:
            every = list(range(rds.n_classes))
            normal = st.multiselect("Normal digits" if mnist_run else "Normal classes", every, format_func=cls,
                                    default=[c for c in (run.config.digits or [1]) if c in every], key=f"normal_{rds.name}")
            if not normal or len(normal) == rds.n_classes:
                st.warning(f"Pick between one and {rds.n_classes - 1} normal {'digits' if mnist_run else 'classes'}.")
            else:
                trained = tuple(run.config.digits or range(rds.n_classes))
                unit, units = ("digit", "digits") if mnist_run else ("class", "classes")
                if len(trained) != 1:
                    which = (("all ten digits" if mnist_run else f"all {rds.n_classes} classes")
                             if len(trained) == rds.n_classes else f"{units} " + ", ".join(cls(c) for c in trained))
                    st.warning(f"**{safe.plain(run.label())} was trained on {which}, not on one {unit} only.** Every {unit} "
                               f"it saw is “normal” to it, so the AUC below does not measure anomaly detection: it only says "
                               f"how much better this model happens to reconstruct the {units} picked as normal than the "
                               "others. " + ("Pick a one-digit run in the sidebar (e.g. zoo · conv-k16-only1) or train one "
                                             "above." if mnist_run else "Train a one-class run above and pick it."))
                elif set(normal) != set(trained):
                    st.warning(f"{safe.plain(run.label())} was trained on the {unit} {cls(trained[0])} only, but the normal "
                               f"{units} picked here are {', '.join(cls(c) for c in normal)}. The AUC then scores {units} the "
                               f"model never saw as “normal”; pick {cls(trained[0])} as the normal {unit} to test anomaly "
                               "detection.")
                res = background.computed("anomaly", {"run": key, "normal": sorted(int(d) for d in normal)})
                st.metric(f"ROC AUC: normal vs all other {'digits' if mnist_run else 'classes'}", f"{res.summary['auc']:.3f}")
                st.image(to_png(rows_grid([res.images["originals"], res.images["recons"]]), scale=3),
                         caption=f"one test image of each {unit} (top) and its reconstruction (bottom)")
                errs = res.tables["errors"]
                order = [cls(c) for c in range(rds.n_classes)]
                fig = px.box([{"digit": cls(r["digit"]), "mse": r["mse"]} for r in errs], x="digit", y="mse", color="digit",
                             color_discrete_map={cls(c): charts.class_colour(c, rds.n_classes) for c in range(rds.n_classes)},
                             category_orders={"digit": order}, points=False, height=380,
                             labels={"mse": "reconstruction MSE", "digit": "digit" if mnist_run else "class"})
                fig.update_layout(showlegend=False, margin=dict(l=10, r=10, t=30, b=10))
                charts.digit_axis(fig, categories=order)
                st.plotly_chart(fig, key="anomaly_box")
                widgets.result_table(res, "per_digit")
                widgets.table_csv(errs, "anomaly-errors-per-image", key="csv_anomaly_errors")

# ---- 6. stacked AE ------------------------------------------------------------------------------
if tabs[5].open:
    with tabs[5]:
        st.markdown("A deep MLP trained end to end, and the same MLP first pretrained greedily one layer pair at a time "
                    "(a stacked autoencoder), then fine-tuned.")
        c1, c2, c3 = st.columns(3)
        model = c1.selectbox("Model", ["mlp-deep", "mlp-hinton"], key="stack_model")
        k = c2.number_input("Latent size", 1, 256, 8, key="stack_k")
        pre = c3.number_input("Pretraining epochs per layer", 1, 20, 1, key="stack_pre")
        settings = training_settings("stack", epochs=2, limit=10000)
        base = TrainConfig(model=model, latent=int(k), **settings)
        params = {"base": base.to_dict(), "pretrain": int(pre)}
        why = trainable([base])
        res = None if why else background.background_experiment("stacked", params)
        if why:
            st.info(f"The stacked AE's deep MLPs cannot train on {settings['dataset']}: {why}.")
        if res is not None and res.tables["final"]:
            st.plotly_chart(curves_figure(res.tables["curves"]), key="stack_curves")
            widgets.table_csv(res.tables["curves"], "stacked-curves", key="csv_stack_curves")
            widgets.result_table(res, "final")
            recon_rows(res, [r["model"] for r in res.tables["final"]])

# ---- 7. your images: classes from a run's code, the conv-AE tutorial's comparison ----------------
if tabs[6].open:
    with tabs[6]:
        st.markdown("On MNIST or on a data set added on the **Data sets** page: a classifier head on a run's code, "
                    "fine-tuned with its encoder (accuracy overall and per class), and the conv-AE tutorial's Flowers102 "
                    "experiment as one comparison.")
        st.subheader("Classify with a run's encoder")
        ckey, crun = picker.run_picker("Run", key="run_cls", sidebar=False, data=None)
        if crun is not None:
            cds = session.dataset(crun.config.dataset)
            f1, f2, f3 = st.columns(3)
            c_epochs = f1.number_input("Epochs", 1, 100, 5, key="cls_epochs")
            c_labels = f2.select_slider("Labelled training images", [100, 300, 1000, 3000, 0], 0, key="cls_labels",
                                        format_func=lambda n: "all" if n == 0 else f"{n:,}")
            freeze = f3.checkbox("Encoder frozen (train the head only)", key="cls_freeze")
            params = {"run": ckey, "epochs": int(c_epochs), "labels": int(c_labels) or None, "seed": 0, "freeze": bool(freeze)}
            res = background.background_experiment("classify", params, button="▶ Fine-tune a classifier")
            if res is not None:
                r = res.tables["accuracy"][0]
                m1, m2, m3 = st.columns(3)
                m1.metric("Test accuracy", f"{r['test_acc']:.1%}")
                m2.metric("Training accuracy", f"{r['train_acc']:.1%}")
                m3.metric("Chance", f"{r['chance']:.1%}", help=f"one class in {cds.n_classes}")
                per = res.tables["per_class"]
                names = [safe.plain(p["name"]) for p in per]
                fig = go.Figure(go.Bar(x=names, y=[p["test_acc"] for p in per],
                                       text=[f"{p['test_acc']:.0%}" if p["test_acc"] is not None else "" for p in per]))
                fig.add_hline(y=r["chance"], line_dash="dot", annotation_text="chance")
                fig.update_layout(title="Test accuracy per class", yaxis_range=[0, 1], xaxis_type="category",
                                  yaxis_title="test accuracy", height=340, margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, key="cls_per_class")
                conf = res.images["confusion"]
                heat = px.imshow(conf, x=names, y=names, labels=dict(x="predicted", y="true class", color="images"),
                                 text_auto=len(names) <= 20, color_continuous_scale="Blues", height=420,
                                 title="Which class each test image was given")
                heat.update_layout(margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(heat, key="cls_confusion")
                widgets.result_table(res, "per_class")

        st.subheader("The conv-AE tutorial's comparison")
        st.caption("Four versions of the tutorial's colour autoencoder, each trained, then fine-tuned with its "
                   "classifier head: " + " → ".join(f"**{v}** ({VARIANT_TEXT[v]})" for v in VARIANTS) + ". The "
                   "tutorial reports about 15% for the base network and about 26% with the upsampling decoder on "
                   "Flowers102 (100 + 60 epochs at 100×100).")
        t0, t1, t2, t3 = st.columns(4)
        tname = t0.selectbox("Data set", HERE, index=url.query_index("dataset", HERE, HERE[-1]), key="tut_data")
        ae_ep = t1.number_input("Autoencoder epochs", 1, 200, 3, key="tut_ae")
        clf_ep = t2.number_input("Classifier epochs", 1, 200, 3, key="tut_clf")
        lim = t3.number_input("Training images (0 = all)", 0, 60000, 2000 if tname == "mnist" else 0, step=500,
                              key=f"tut_limit_{tname}")
        picked = st.multiselect("Variants", list(VARIANTS), default=list(VARIANTS), key="tut_variants",
                                format_func=lambda v: f"{v}: {VARIANT_TEXT[v]}")
        size = session.dataset(tname).image_shape[1]
        try:
            check_tutorial_size(size)  # the tutorial's models take this image size: say so before anything is queued
            ok = bool(picked)
        except ValueError as e:
            st.warning(f"The tutorial's models cannot take {size}×{size} images: {e}")
            ok = False
        if ok:
            params = {"dataset": tname, "variants": [v for v in VARIANTS if v in picked], "ae_epochs": int(ae_ep),
                      "clf_epochs": int(clf_ep), "seed": 0, "limit": int(lim) or None, "labels": None}
            res = background.background_experiment("tutorial", params)
            if res is not None and res.tables["accuracy"]:
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
