"""Per-device budgets: the proxy stage (how much data and how many epochs a cheap trial gets, how
much compute a net may cost) and the finals (how many candidates are retrained, for how long).

CPU: sized for a 2-core machine, where `mnist-search run --trials 100` (proxy and finals) should
end within 45 minutes with a >= 99.4 % model; bench/RESULTS.md has the measurements behind it.
GPU: designed for throughput (reasoning below; every GPU figure is "not measured" until
bench/gpu_check.sh has run on one).

A profile is chosen by name (`--profile cpu|gpu`, `profile=` in the API) or by the device
(`auto`, the default: gpu on CUDA, else cpu). Any profile runs on any device, so the gpu profile's
logic (its Hyperband rungs, finals, worker layout) is tested on a CPU at tiny sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    subset: int | None  # proxy training images per trial (None: all)
    epochs: int  # proxy epochs per trial
    max_macs: int | None  # multiply-accumulates per image a sampled net may cost
    finals: int  # distinct top proxy trials retrained at full fidelity
    final_epochs: int
    recipe_base: str  # the recipe space's default base net on this device
    # The finals' (and their seeds') weight average over about this many training images: what they
    # validate and keep (mnistnet Recipe.ema_images); 0: none.
    final_ema_images: int = 0
    seed_check: int = 0  # export: also retrain the answer with this many seeds to report test mean ± std
    # `--workers auto`: worker processes of this many intra-op threads each (None: one worker, all cores).
    threads_per_worker: int | None = None
    # `--compile auto`: compile a training of at least this many images (epochs x images; None: never),
    # where the measured compile time is won back by the faster steps.
    compile_payback_images: int | None = None
    # `--workers auto` on a GPU profile: this many worker processes share one GPU (at most one per
    # CPU core: each worker's Python thread issues its own kernels). None: threads_per_worker decides.
    workers_per_gpu: int | None = None

    def describe(self, train_images: int, final_subset: int | None = None) -> str:
        """Its log line; train_images: the training images left beside the run's validation split;
        final_subset: the finals' slice of them (--final-subset), if any."""
        images = f"{self.subset:,} training images" if self.subset else f"all {train_images:,} training images"
        macs = f"MACs <= {self.max_macs:,} per image" if self.max_macs else "no MACs bound"
        final_images = f"{final_subset:,} training images" if final_subset else f"all {train_images:,} images"
        count = f"{self.finals} final{'s' if self.finals != 1 else ''}"
        finals = f"then {count} on {final_images} x {self.final_epochs} epochs" if self.finals else "no finals"
        return f"profile {self.name}: proxy {images} x {self.epochs} epochs, {macs}; {finals}"


# compile_payback_images: on the 2-core CPU, torch.compile of gap10k cost 27 s (fp32) / 19 s (bf16)
# cold and then trained 1.5x faster, paying back after 250k / 216k images (bench/RESULTS.md); the
# threshold doubles the larger figure, for nets whose graphs compile slower. A CPU final (55k x 15
# epochs = 825k images) and `train`'s full recipes compile; proxy trials (32k images) never do.
# threads_per_worker: 40 proxy trials on 2 cores ran 1.39x (fp32) and 1.67x (bf16) more trials per
# hour as 2 workers x 1 thread than as 1 worker x 2 threads: small nets do not fill two threads.
# finals and final_epochs: at most 2 finals, the rung's front over the proxy's plausible nets
# (search.selection): the rung retrains 2 nets in each of 2 size bands. With 4 (a rung of 8 nets) the
# default run took 1.85-2.08x the peer's one training here, of which the rung 3.7-5.1 min and the finals
# 3 rounds; `run --time` at the peer's time planned this size (a rung of 4, 2 finals) and ended in 0.95 T
# with a confirmed answer (bench/RESULTS.md, 2026-12-04). Small nets gained from 30 epochs over 20
# (a sampled 5,516-param final: 99.22-99.32 % after 20, 99.44-99.50 % after 30, bench/final_epochs.py),
# but 20 epochs with a weight average over 128,000 images (decay 0.999 at batch 128) held the 30-epoch mean: +0.01 pp over 3 nets x
# 3 seeds (bench/final_recipes.py, bench/RESULTS.md, 2026-12-04), at two thirds of the cost.
CPU = Profile(
    "cpu",
    subset=8000,
    epochs=4,
    max_macs=2_000_000,
    finals=2,
    final_epochs=20,
    recipe_base="gap8k",
    final_ema_images=128_000,
    threads_per_worker=1,
    compile_payback_images=500_000,
)
# GPU: designed for throughput, none of it measured yet (no GPU has run this project; bench/RESULTS.md
# "GPU" lists each figure as "not measured" and the one command that measures them all).
# - These nets are launch-bound on a GPU: a training step of a 5-20k-parameter net costs about the
#   same (~2 ms of kernel launches and Python) whatever its width, so a trial costs its number of
#   steps. The previous gpu profile trained every proxy trial on all 55,000 images x 8 epochs
#   (440k images, ~3,400 steps at batch 128: 14x the CPU's trial) with one worker.
# - Proxy fidelity follows the CPU's ranking study (bench/proxy_ranking.py, bench/RESULTS.md): 8,000
#   images per epoch ranked the better half of the candidates at Spearman +0.90 once judged at epoch
#   2 or later (16k-24k images seen), as well as 16,000 x 2 did; 4,000 images ranked worse. So the
#   GPU keeps 8,000 images per epoch and trains 8 epochs (64k images, ~500 steps: 1/7 of the previous
#   trial). Hyperband's first rung, after the one-cycle warm-up, falls at epoch 3 (24k images seen,
#   the CPU's measured +0.90 point); the survivors train twice the CPU proxy's images, which the
#   CPU study found ranks all candidates a little better the more images are seen (+0.46 -> +0.62).
#   The 8-epoch schedule itself was not in the study: `bench/proxy_ranking.py --proxies
#   8000x4,8000x8,16000x8 --full 55000x20` on a GPU measures it.
# - No MACs bound: a launch-bound step costs the same for wider nets; the 20k parameter budget stays.
# - Each net keeps its own batch (32-512, searched) in its finals too. A batch that fills the GPU would
#   cut a final's steps 4-8x, but on validation at full fidelity (3 small nets x 3 seeds, CPU) batch
#   512 and 1024 with the learning rate scaled by the square root of the batch ratio lost 0.11 and
#   0.15 pp against the nets' own batch 128; linear scaling at 1024 lost 0.43 pp, and 40 epochs at
#   1024 did no better than 20 (bench/final_recipes.py, bench/RESULTS.md, 2026-12-05).
# - workers_per_gpu 4: one launch-bound worker leaves the GPU idle between its kernels; four
#   processes (each its own CUDA context, ~0.5 GB, and its own 47 MB copy of MNIST on the device)
#   fill those gaps. bench/gpu_check.sh measures 1, 2, 4 and 8 workers; pick from its table.
# - More and longer finals (6 x 20 epochs): full-fidelity training is where a GPU's time goes, and it
#   buys the front the proxy cannot give. No seed check at export (seed_check 0): the run's
#   confirmation already trains the answer's seeds and export tests each seed's weights once, while
#   a retraining at export cost 73 s a seed on an H200 (bench/gpu_check.py).
# - torch.compile and CUDA graphs: not adopted (compile_payback_images None) until measured; `--compile
#   on` compiles the finals' steps and `--compile graphs` compiles them with CUDA graphs
#   (mode "reduce-overhead", which removes launch cost), so the measurement can pick. Proxy trials are
#   never compiled: every trial is a new net, so every trial would pay a cold compile.
GPU = Profile(
    "gpu", subset=8000, epochs=8, max_macs=None, finals=6, final_epochs=20, recipe_base="seed001", workers_per_gpu=4
)
PROFILES = {"cpu": CPU, "gpu": GPU}
CHOICES = ("auto", *PROFILES)
OVERRIDE_HINT = "override with --subset N|all, --epochs E, --max-macs M (0: none), --finals K, --final-epochs E"


def auto_workers(profile: Profile, cores: int) -> int:
    if profile.workers_per_gpu is not None:
        return max(1, min(profile.workers_per_gpu, cores))
    if profile.threads_per_worker is None:
        return 1
    return max(1, cores // profile.threads_per_worker)


def threads_per_worker(device_type: str, workers: int, cores: int) -> int:
    """Intra-op threads of each of `workers` CPU workers sharing `cores` cores (1 on a GPU: it computes)."""
    return max(1, cores // workers) if device_type == "cpu" else 1


def compile_pays_back(profile: Profile, training_images: int) -> bool:
    return profile.compile_payback_images is not None and training_images >= profile.compile_payback_images


def choose(name: str, device_type: str) -> Profile:
    """The named profile, or for "auto" the device's own (gpu on CUDA, else cpu)."""
    if name == "auto":
        return GPU if device_type == "cuda" else CPU
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(CHOICES)}")
    return PROFILES[name]


# The run settings (search.run_settings.RunSettings) a profile gives a value to, where a run leaves them
# None; a run's own value overrides the profile's (subset 0 / max_macs 0: no bound).
OVERRIDES = ("subset", "epochs", "max_macs", "finals", "final_epochs")
NO_BOUND = ("subset", "max_macs")  # 0 means "all" / "none", kept as None


def for_device(
    device_type: str, subset=None, epochs=None, max_macs=None, finals=None, final_epochs=None, *, profile: str = "auto"
) -> Profile:
    """The profile (`profile`: auto, cpu or gpu; auto follows the device) with any explicit overrides
    applied (subset 0 / max_macs 0: no bound)."""
    given = dict(subset=subset, epochs=epochs, max_macs=max_macs, finals=finals, final_epochs=final_epochs)
    return replace(
        choose(profile, device_type),
        **{k: (v or None) if k in NO_BOUND else v for k, v in given.items() if v is not None},
    )
