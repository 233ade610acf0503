"""Per-device budgets: the proxy stage (how much data and how many epochs a cheap trial gets, how
much compute a net may cost) and the finals (how many candidates are retrained, for how long).

CPU: sized for a 2-core machine, where `mnist-search run --trials 100` (proxy and finals) should
end within 45 minutes with a >= 99.4 % model; bench/RESULTS.md has the measurements behind it.
GPU: the full training split in the proxy, more finals, longer finals.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    subset: int | None  # proxy training images per trial (None: all 55,000)
    epochs: int  # proxy epochs per trial
    max_macs: int | None  # multiply-accumulates per image a sampled net may cost
    finals: int  # distinct top proxy trials retrained at full fidelity
    final_epochs: int
    recipe_base: str  # the recipe space's default base net on this device
    seed_check: int = 0  # export: also retrain the answer with this many seeds to report test mean ± std
    # `--workers auto`: worker processes of this many intra-op threads each (None: one worker, all cores).
    threads_per_worker: int | None = None
    # `--compile auto`: compile a training of at least this many images (epochs x images; None: never),
    # where the measured compile time is won back by the faster steps.
    compile_payback_images: int | None = None

    def describe(self) -> str:
        images = f"{self.subset:,} training images" if self.subset else "all 55,000 training images"
        macs = f"MACs <= {self.max_macs:,} per image" if self.max_macs else "no MACs bound"
        finals = (f"then {self.finals} finals on all 55,000 images x {self.final_epochs} epochs"
                  if self.finals else "no finals")
        return f"profile {self.name}: proxy {images} x {self.epochs} epochs, {macs}; {finals}"


# compile_payback_images: on the 2-core CPU, torch.compile of gap10k cost 27 s (fp32) / 19 s (bf16)
# cold and then trained 1.5x faster, paying back after 250k / 216k images (bench/RESULTS.md); the
# threshold doubles the larger figure, for nets whose graphs compile slower. A CPU final (55k x 15
# epochs = 825k images) and `train`'s full recipes compile; proxy trials (32k images) never do.
# threads_per_worker: 40 proxy trials on 2 cores ran 1.39x (fp32) and 1.67x (bf16) more trials per
# hour as 2 workers x 1 thread than as 1 worker x 2 threads: small nets do not fill two threads.
# finals and final_epochs: 4 finals, one per size band of the proxy's plausible nets (search.selection),
# so a run ends with a full-fidelity front; 20 epochs because small nets gain from longer finals
# (gap8k: 99.32-99.36 % validation after 15 epochs, 99.40 % after 20) and their finals are cheap.
CPU = Profile("cpu", subset=8000, epochs=4, max_macs=2_000_000, finals=4, final_epochs=20,
              recipe_base="gap8k", threads_per_worker=1, compile_payback_images=500_000)
# On a GPU, compile and worker layouts are not measured yet: no compile, one worker.
GPU = Profile("gpu", subset=None, epochs=8, max_macs=None, finals=6, final_epochs=20, recipe_base="seed001",
              seed_check=3)
OVERRIDE_HINT = "override with --subset N|all, --epochs E, --max-macs M (0: none), --finals K, --final-epochs E"


def auto_workers(profile: Profile, cores: int) -> int:
    if profile.threads_per_worker is None:
        return 1
    return max(1, cores // profile.threads_per_worker)


def threads_per_worker(device_type: str, workers: int, cores: int) -> int:
    """Intra-op threads of each of `workers` CPU workers sharing `cores` cores (1 on a GPU: it computes)."""
    return max(1, cores // workers) if device_type == "cpu" else 1


def compile_pays_back(profile: Profile, training_images: int) -> bool:
    return profile.compile_payback_images is not None and training_images >= profile.compile_payback_images


def for_device(device_type: str, subset=None, epochs=None, max_macs=None, finals=None,
               final_epochs=None) -> Profile:
    """The device's profile with any explicit overrides applied (subset 0 / max_macs 0: no bound)."""
    p = GPU if device_type == "cuda" else CPU
    if subset is not None:
        p = replace(p, subset=subset or None)
    if epochs is not None:
        p = replace(p, epochs=epochs)
    if max_macs is not None:
        p = replace(p, max_macs=max_macs or None)
    if finals is not None:
        p = replace(p, finals=finals)
    if final_epochs is not None:
        p = replace(p, final_epochs=final_epochs)
    return p
