"""The sections of a run's config: the ones every task has (data, train, eval, health), each task's own
(gan: loss, reg, augment, trick; vae: vae) and the table that selects them by ``task.name``.

The ``model`` section is the model family's own options class (gankit.models, selected by ``model.name``); the
``reg`` and ``trick`` sections are completed by the fields each registered term declares (gankit.terms). Both are
resolved when a config is built, so importing this module imports neither torch nor a model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..fields import extend, option


@dataclass
class TaskConfig:
    """What kind of model the run trains (gankit list: tasks)."""

    name: str = option("gan", help="the task: gan, ctgan (tables), molgan (molecules), superres, inpaint (photos), pix2pix, cyclegan, stargan (translation), acgan, ssgan, pixelda (data for other models), or another generative family (vae, tvae, flow, autoregressive, diffusion)")


@dataclass
class DataConfig:
    """What to train on. Point mixtures (ring, grid, mog1d) are sampled fresh every batch; images are held in memory."""

    name: str = option("digits", help="dataset", registry="datasets")
    path: str | None = option(None, help="folder or file for folder / mnist / cifar10 data; a CSV file for table data; a .smi / .csv / .sdf "
                                         "of SMILES for molecules")
    split: str = option("train", help="which split to train on", choices=("train", "test", "all"))
    resolution: int = option(32, help="image side in pixels", low=4, high=1024)
    channels: int = option(1, help="image channels: 1 grey, 3 RGB", choices=(1, 3))
    modes: int | None = option(None, help="toys: number of mixture components (grid: a square number)", low=1, high=10000)
    radius: float = option(1.0, help="ring: radius of the circle of centres", low=0.0)
    spacing: float = option(2.0, help="grid / mog1d: distance between neighbouring centres", low=0.0)
    std: float | None = option(None, help="toys: standard deviation of each component (default: ring 0.01, grid 0.05, mog1d 0.25)", low=0.0)
    size: int = option(0, help="toys: train on a fixed set of this many points, drawn once with train.seed and reshuffled every "
                                "epoch (PacGAN's code: 100,000 per pack position); 0: fresh points every batch", low=0)
    dim: int | None = option(None, help="toys: ambient dimension (default: ring, grid 2; mog1d 1); the centres keep their first "
                                        "coordinates, the noise is isotropic in all dim, so the intrinsic dimension is dim", low=1, high=4096)
    classes: list[int] = option(help="labelled images: keep only these classes (e.g. 0,1,2), relabelled 0..k-1 in this order",
                                factory=list)
    labels_per_class: int = option(0, help="labelled images: keep the labels of only this many training images per class, chosen by "
                                           "data.label_seed (the few-label protocol); 0: every label", low=0)
    label_seed: int = option(0, help="seed of the choice of labelled training images (data.labels_per_class)", low=0)
    unlabelled: bool = option(False, help="with data.labels_per_class: also keep the other training images, without labels (the "
                                          "semi-supervised tasks acgan and ssgan use them); false: the labelled images only")
    skip_bad_files: bool = option(False, help="folder: skip unreadable images and report them instead of stopping")
    max_memory_mb: float = option(2048.0, help="folder: above this decoded size the images stream from disk", low=1.0)
    table: str = option("breast-cancer", help="table: a bundled (iris, wine, breast-cancer, diabetes) or simulated (grid, gridr, ring, "
                                              "asia, child) table, used when data.path is empty")
    metadata: str | None = option(None, help="table: SDV single-table metadata .json giving each CSV column's sdtype")
    target: str | None = option(None, help="table: the column downstream models predict (ML efficacy); bundled tables name their own")
    test_fraction: float = option(0.2, help="table: fraction of a CSV's / bundled table's rows held out as the test split (fixed seed)",
                                  low=0.0, high=0.9)
    rows: int = option(10000, help="table: rows of each split of a simulated table", low=10)
    max_modes: int = option(10, help="table: Gaussian-mixture modes per continuous column (mode-specific normalization)", low=1, high=50)
    max_atoms: int = option(9, help="molecules: heavy atoms per graph (M); larger molecules are left out", low=2, high=64)
    degrade: str = option("bicubic", help="photos: how a target patch becomes the input: bicubic (super-resolution) or mask (inpainting)",
                          choices=("bicubic", "mask"))
    scale: int = option(4, help="photos, bicubic: the super-resolution factor", choices=(2, 4))
    kernel: str = option("matlab", help="photos, bicubic: the downsampling kernel: matlab (MATLAB's imresize, antialiased; the SR papers') "
                                        "or pil (PyTorch's antialiased bicubic, as PIL)", choices=("matlab", "pil"))
    blur: float = option(0.0, help="photos, bicubic: Gaussian blur σ in high-resolution pixels before downsampling (0: none)", low=0.0, high=10.0)
    noise: float = option(0.0, help="photos, bicubic: std of Gaussian noise added to the low-resolution input, in [-1, 1] units", low=0.0, high=1.0)
    mask: str = option("center", help="photos, mask: the holes: center (Pathak et al. 2016), blocks (random rectangles) or free-form "
                                      "(DeepFill v2 strokes)", choices=("center", "blocks", "free-form"))
    test_path: str | None = option(None, help="photos: a folder of test photos (e.g. Set5); without it every 10th file of data.path is held out")
    layout: str = option("auto", help="translation: the folder layout of data.path: unaligned (CycleGAN trainA/ trainB/ testA/ testB/), "
                                      "aligned (pix2pix A|B side by side in train/ test/), parallel (A/train, B/train matched by name), "
                                      "domains (StarGAN train/<domain>/), celeba (list_attr_celeba.txt + images/); auto: guessed",
                         choices=("auto", "unaligned", "aligned", "parallel", "domains", "celeba"))
    direction: str = option("AtoB", help="translation, paired: which side is the input (AtoB, or BtoA as pix2pix's --direction)",
                            choices=("AtoB", "BtoA"))
    attrs: list[str] = option(help="translation, celeba: the attributes to translate (StarGAN: Black_Hair,Blond_Hair,Brown_Hair,Male,Young)",
                              factory=list)
    flip: bool = option(False, help="translation: mirror training images left-right at random (the papers' augmentation)")
    cond_frequency: str = option("log", help="table: CTGAN's training-by-sampling draws categories by log frequency (log) or as often as "
                                             "they occur (empirical)", choices=("log", "empirical"))


@dataclass
class LossConfig:
    """Adversarial loss; see gankit.losses for the exact formulas and sign convention."""

    name: str = option("nsgan", help="adversarial loss", registry="losses")
    real_target: float = option(1.0, help="one-sided label smoothing: D's target for real samples (e.g. 0.9)", low=0.0, high=1.0)


@dataclass
class TrainConfig:
    """The schedule every task shares. `step` is one update of the task's main phase (a GAN's G update); other
    updates (a GAN's D updates) and the images shown are counted separately."""

    steps: int = option(2000, help="updates of the main phase (GAN: G updates)", low=1)
    batch_size: int = option(64, help="samples per update", low=1, high=65536)
    seed: int = option(0, help="seeds Python, NumPy and torch", low=0)
    optimizer: str = option("adam", help="optimizer of every network", choices=("adam", "rmsprop", "sgd"))
    lr_decay: str = option("none", help="learning-rate schedule: none, or linear decay to 0 from lr_decay_start·steps to the end",
                           choices=("none", "linear"))
    lr_decay_start: float = option(0.5, help="fraction of train.steps after which the linear decay begins", low=0.0, high=1.0)
    beta1: float = option(0.5, help="Adam beta1 (sgd: momentum)", low=0.0, high=1.0)
    beta2: float = option(0.999, help="Adam beta2", low=0.0, high=1.0)
    ema_kimg: float = option(0.0, help="half-life of the averaged sampling network (G_ema, decoder_ema) in thousands of images shown; "
                                       "0 keeps it equal to the trained one", low=0.0)
    ema_rampup: float | None = option(0.05, help="EMA half-life at most this fraction of images shown so far (StyleGAN2); null: off", low=0.0)
    budget_s: float = option(0.0, help="stop once training has run this many wall-clock seconds (a time budget, e.g. for comparing "
                                       "models on equal compute; train.steps still caps it); 0: off", low=0.0)
    snapshots: bool = option(True, help="toys: keep ~60 snapshots of samples and the task's field for the report's training animation "
                                        "(off for timing runs: a slow sampler's snapshots would count as training time)")
    log_every: int = option(50, help="steps between log lines in metrics.jsonl", low=1)
    sample_every: int = option(500, help="steps between sample grids / scatter plots", low=1)
    checkpoint_every: int = option(1000, help="steps between checkpoints", low=1)
    keep_checkpoints: int = option(2, help="how many recent checkpoints to keep", low=1)
    device: str = option("auto", help="auto, cpu, cuda or cuda:N")
    threads: int = option(0, help="CPU threads for torch; 0 leaves torch's default", low=0, high=1024)
    progress: bool = option(True, help="show a progress bar")
    channels_last: bool = option(True, help="image models: networks and batches in channels_last memory format (measured faster on CPU; "
                                            "see docs/benchmarks/throughput.md)")
    precision: str = option("auto", help="autocast precision of the forward passes: auto (bf16 for image models where the CPU or GPU computes "
                                         "bf16 natively, else fp32), fp32, bf16, fp16 (GPU, with a gradient scaler), or tf32 (GPU: fp32 tensors, "
                                         "TensorFloat-32 matrix products and convolutions on Ampere or newer)",
                            choices=("auto", "fp32", "bf16", "fp16", "tf32"))
    kernels: str = option("auto", help="auto: bf16 training on the CPU computes convolutions' weight gradients (and fully connected "
                                       "4×4 layers) as matrix products, measured faster than oneDNN's (docs/benchmarks/throughput.md); "
                                       "native: PyTorch's kernels throughout. fp32 and GPU runs are the same either way",
                          choices=("auto", "native"))
    compile: bool = option(False, help="torch.compile the trained networks (a network differentiated twice, e.g. D under a gradient "
                                       "penalty, stays eager)")
    weight_decay: float = option(0.0, help="L2 penalty added to every gradient by the optimizer (CTGAN 1e-6, TVAE 1e-5)", low=0.0)
    tensorboard: bool = option(False, help="also write scalars and sample images to RUN/tensorboard/ (pip install gankit[tensorboard])")


@dataclass
class GANTrainConfig(TrainConfig):
    """The GAN's schedule: n_critic D updates, then one G update (the step)."""

    n_critic: int = option(1, help="D updates per G update", low=1, high=100)
    lr_g: float = option(2e-4, help="G learning rate", low=0.0, high=10.0)
    lr_d: float = option(2e-4, help="D learning rate (two time-scale rule: may differ from lr_g)", low=0.0, high=10.0)
    reuse_fake: bool = option(True, help="G's update reuses the last D update's fake batch (one G forward pass fewer per step; same gradients)")
    updates: str = option("alternating", help="alternating: D's update, then G's against the updated D; simultaneous: both gradients at the "
                                              "same (θ_G, θ_D) on one real and one fake batch, then both steps (the unrolled-GAN notebook's "
                                              "and PacGAN's / ALI's code; needs n_critic 1)", choices=("alternating", "simultaneous"))


@dataclass
class VAETrainConfig(TrainConfig):
    """The VAE's schedule: one update of encoder and decoder together per step."""

    lr: float = option(1e-3, help="learning rate of encoder and decoder", low=0.0, high=10.0)
    beta1: float = option(0.9, help="Adam beta1 (sgd: momentum)", low=0.0, high=1.0)


@dataclass
class CTGANTrainConfig(TrainConfig):
    """CTGAN's schedule (Xu et al. 2019 and the authors' code): Adam 2e-4, β (0.5, 0.9), weight decay 1e-6, batches of 500,
    one D update per G update. One epoch is max(rows // batch_size, 1) steps."""

    batch_size: int = option(500, help="rows per update (CTGAN: 500)", low=1, high=65536)
    beta2: float = option(0.9, help="Adam beta2", low=0.0, high=1.0)
    weight_decay: float = option(1e-6, help="L2 penalty added to every gradient by the optimizer (CTGAN: 1e-6)", low=0.0)
    n_critic: int = option(1, help="D updates per G update (CTGAN's discriminator_steps: 1)", low=1, high=100)
    lr_g: float = option(2e-4, help="G learning rate", low=0.0, high=10.0)
    lr_d: float = option(2e-4, help="D learning rate", low=0.0, high=10.0)


@dataclass
class TVAETrainConfig(VAETrainConfig):
    """TVAE's schedule (the authors' code): Adam 1e-3, β (0.9, 0.999), weight decay 1e-5, batches of 500."""

    batch_size: int = option(500, help="rows per update (TVAE: 500)", low=1, high=65536)
    weight_decay: float = option(1e-5, help="L2 penalty added to every gradient by the optimizer (TVAE: 1e-5)", low=0.0)


@dataclass
class CTGANConfig:
    """CTGAN's objective (Xu et al. 2019): WGAN-GP on PacGAN packs, the conditional vector and its cross-entropy."""

    gp: float = option(10.0, help="gradient-penalty weight λ", low=0.0)
    tau: float = option(0.2, help="temperature of the Gumbel-softmax on G's one-hot outputs", low=1e-3, high=10.0)
    conditional: bool = option(True, help="the conditional vector and training-by-sampling (false: the paper's ablation without them)")


@dataclass
class TVAEConfig:
    """TVAE's objective (Xu et al. 2019): reconstruction (Gaussian on α, cross-entropy on one-hots) × loss_factor + KL."""

    loss_factor: float = option(2.0, help="weight of the reconstruction term (the authors' code: 2)", low=0.0)


@dataclass
class MolGANTrainConfig(TrainConfig):
    """MolGAN's schedule (the authors' code): Adam 1e-3 for G, D and V, five critic updates per G update, batches of 32
    (the paper; their example uses 128)."""

    batch_size: int = option(32, help="graphs per update (MolGAN: 32)", low=1, high=65536)
    n_critic: int = option(5, help="D updates per G update (MolGAN: 5)", low=1, high=100)
    lr_g: float = option(1e-3, help="G learning rate", low=0.0, high=10.0)
    lr_d: float = option(1e-3, help="D (and reward network V) learning rate", low=0.0, high=10.0)
    beta1: float = option(0.9, help="Adam beta1 (TensorFlow's default, the authors' code)", low=0.0, high=1.0)
    ema_kimg: float = option(0.0, help="G_ema's half-life in thousands of graphs (0: G_ema = G)", low=0.0)


@dataclass
class MolGANConfig:
    """MolGAN's objective (De Cao & Kipf 2018): WGAN-GP on relaxed graphs plus a reward network, and the remedies for
    mode collapse measured in docs/benchmarks/molecules.md."""

    la: float = option(1.0, help="λ: weight of the WGAN loss in G's objective; 1 − λ goes to the reward (1: no RL; 0: RL only)",
                       low=0.0, high=1.0)
    reward: str = option("qed", help="the reward: a product of oracles, e.g. qed or qed,sa (qed, logp, sa, validity, or a name "
                                     "registered with gankit.molecules.register_reward)")
    rl_start: int = option(0, help="steps of pure WGAN before the reward joins G's objective (the authors: one epoch)", low=0)
    gp: float = option(10.0, help="gradient-penalty weight", low=0.0)
    output: str = option("softmax", help="what D sees of G's graphs: softmax (the authors' default), gumbel (Gumbel-softmax) or "
                                         "hard-gumbel (straight-through)", choices=("softmax", "gumbel", "hard-gumbel"))
    tau: float = option(1.0, help="Gumbel-softmax temperature", low=1e-3, high=10.0)
    replay: int = option(0, help="experience replay: graphs kept from past G samples for D (0: off)", low=0)
    replay_fraction: float = option(0.5, help="fraction of D's fake batch drawn from the replay buffer", low=0.0, high=1.0)
    elite_every: int = option(0, help="elite-sample loop: steps between rounds that add the best generated molecules to the real "
                                      "data (0: off)", low=0)
    elite_fraction: float = option(0.01, help="elite-sample loop: the top fraction of the pool by reward that joins the data",
                                   low=0.0, high=1.0)
    elite_pool: int = option(1000, help="elite-sample loop: molecules generated per round", low=1)


@dataclass
class PairTrainConfig(TrainConfig):
    """The restoration tasks' schedule: Adam (β1 0.9, the SR papers) at 10⁻⁴ for G and D, batches of 16 patches."""

    batch_size: int = option(16, help="patches per update (SRGAN, ESRGAN: 16)", low=1, high=65536)
    beta1: float = option(0.9, help="Adam beta1 (SRGAN, ESRGAN: 0.9)", low=0.0, high=1.0)
    n_critic: int = option(1, help="D updates per G update", low=1, high=100)
    lr_g: float = option(1e-4, help="G learning rate (SRGAN, ESRGAN: 1e-4)", low=0.0, high=10.0)
    lr_d: float = option(1e-4, help="D learning rate", low=0.0, high=10.0)


@dataclass
class SRConfig:
    """Super-resolution objectives (gankit.tasks.superres): empty weights take the objective's paper values."""

    objective: str = option("pixel", help="pixel (SRResNet / PSNR-oriented), srgan (Ledig et al. 2017) or esrgan (Wang et al. 2018)",
                            choices=("pixel", "srgan", "esrgan"))
    pixel: str = option("", help="the pixel loss: mse or l1; empty: the objective's (pixel, srgan: mse; esrgan: l1)", choices=("", "mse", "l1"))
    w_pixel: float | None = option(None, help="weight of the pixel loss after the pretraining (srgan 0, esrgan 1e-2)", low=0.0)
    w_perceptual: float | None = option(None, help="weight of the content loss on VGG19 features (srgan, esrgan: 1)", low=0.0)
    w_adv: float | None = option(None, help="weight of the adversarial loss (srgan 1e-3, esrgan 5e-3)", low=0.0)
    layer: str = option("", help="VGG19 layer of the content loss: reluB_I after activation (srgan: relu5_4) or convB_I before it "
                                 "(esrgan: conv5_4)")
    distance: str = option("", help="content-loss distance: l2 (srgan) or l1 (esrgan); empty: the objective's", choices=("", "l1", "l2"))
    perceptual: str = option("vgg19-random", help="the feature extractor of the content loss: vgg19 (ImageNet weights from sr.weights) or "
                                                  "vgg19-random (offline: a fixed random VGG19)", registry="extractors")
    weights: str | None = option(None, help="vgg19: the ImageNet weights file (torchvision's vgg19-dcbb9e9a.pth, or a .safetensors)")
    pretrain: int = option(0, help="srgan / esrgan: steps on the pixel loss alone before D starts (both papers start from the PSNR "
                                   "model); its result is kept for network interpolation (gankit upscale --alpha); 0: none", low=0)


@dataclass
class InpaintConfig:
    """The context encoder's objective (Pathak et al. 2016): λ_rec · hole reconstruction + λ_adv · adversarial."""

    rec: float = option(0.999, help="λ_rec: weight of the reconstruction loss over the hole (the paper: 0.999)", low=0.0)
    adv: float = option(0.001, help="λ_adv: weight of the adversarial loss (the paper: 0.001; 0: L2 only, no D)", low=0.0)
    distance: str = option("l2", help="reconstruction error: l2 (the paper) or l1", choices=("l1", "l2"))


@dataclass
class TranslationTrainConfig(TrainConfig):
    """The translation tasks' schedule: Adam (β 0.5, 0.999) at 2·10⁻⁴ (pix2pix, CycleGAN; StarGAN 10⁻⁴), linear decay to 0
    over the second half (CycleGAN: 100 + 100 epochs). The papers train on single images; offline presets use batches."""

    batch_size: int = option(16, help="images per update (pix2pix, CycleGAN: 1; StarGAN: 16)", low=1, high=65536)
    n_critic: int = option(1, help="D updates per G update (StarGAN: 5)", low=1, high=100)
    lr_g: float = option(2e-4, help="G learning rate (pix2pix, CycleGAN 2e-4; StarGAN 1e-4)", low=0.0, high=10.0)
    lr_d: float = option(2e-4, help="D learning rate (pix2pix, CycleGAN 2e-4; StarGAN 1e-4)", low=0.0, high=10.0)
    lr_decay: str = option("linear", help="learning-rate schedule: none, or linear decay to 0 from lr_decay_start·steps to the end",
                           choices=("none", "linear"))


@dataclass
class Pix2PixConfig:
    """pix2pix's objective (Isola et al. 2017): w_adv · cGAN + λ_L1 · L1."""

    l1: float = option(100.0, help="λ_L1: weight of the L1 distance to the target (the paper: 100; 0: the cGAN-alone ablation)", low=0.0)
    adv: float = option(1.0, help="weight of the adversarial term (0: the L1-alone ablation, no D)", low=0.0)
    conditional: bool = option(True, help="D judges (input, image) pairs (cGAN); false: the image alone (the paper's unconditional GAN)")
    loss: str = option("vanilla", help="adversarial loss: vanilla (the paper) or lsgan", choices=("vanilla", "lsgan"))


@dataclass
class CycleGANConfig:
    """CycleGAN's objective (Zhu et al. 2017): w_adv · LSGAN + λ · cycle + λ·λ_id · identity."""

    cycle: float = option(10.0, help="λ: weight of the cycle-consistency L1 (the paper: 10; 0 with identity 0: the GAN-alone ablation)", low=0.0)
    identity: float = option(0.5, help="λ_id: identity-loss weight as a fraction of λ (the reference code: 0.5; 0: off)", low=0.0)
    adv: float = option(1.0, help="weight of the adversarial terms (0: the cycle-alone ablation, no D)", low=0.0)
    loss: str = option("lsgan", help="adversarial loss: lsgan (the paper) or vanilla", choices=("vanilla", "lsgan"))
    pool: int = option(50, help="size of each D's history of generated images (the paper: 50; 0: no history)", low=0, high=100000)


@dataclass
class StarGANConfig:
    """StarGAN's objective (Choi et al. 2018): WGAN-GP + λ_cls · domain classification + λ_rec · reconstruction."""

    cls: float = option(1.0, help="λ_cls: weight of the domain-classification terms (the paper: 1)", low=0.0)
    rec: float = option(10.0, help="λ_rec: weight of the reconstruction L1 (the paper: 10)", low=0.0)
    gp: float = option(10.0, help="λ_gp: weight of the gradient penalty (the paper: 10)", low=0.0)


@dataclass
class ACGANConfig:
    """AC-GAN's objective (Odena et al. 2017): D maximizes L_S + λ_cls·L_C, G maximizes λ_cls·L_C − L_S, with L_S the
    real/fake log-likelihood and L_C the log-likelihood of the right class on real and generated images."""

    cls: float = option(1.0, help="λ_cls: weight of the class log-likelihood L_C in D's and G's losses (the paper: 1)", low=0.0)
    fake_cls: bool = option(True, help="D also learns the classes of generated images (the paper); false: real images only "
                                       "(the variant that keeps D's classifier from learning G's mistakes)")


@dataclass
class SSGANConfig:
    """The semi-supervised GAN (Salimans et al. 2016, §5): D is a K-class classifier whose "fake" class has the implicit
    logit 0; G trains on feature matching."""

    unsup: float = option(1.0, help="weight of the unsupervised real/fake term in D's loss (the paper: 1)", low=0.0)
    fm: float = option(1.0, help="G: weight of feature matching on D's penultimate features (the paper's G loss)", low=0.0)
    adv: float = option(0.0, help="G: weight of the non-saturating adversarial loss −log D(G(z)) added to feature matching", low=0.0)


@dataclass
class PixelDATrainConfig(TrainConfig):
    """PixelDA's optimization (Bousmalis et al. 2017, with the authors' released code for MNIST → MNIST-M): Adam
    (β1 0.5, β2 0.999) at 10⁻³ for every network, batches of 32 source and 32 target images, one D update per update of
    G and T (the released code also decays the rate by 0.95 every 20,000 steps, a schedule gankit does not have)."""

    batch_size: int = option(32, help="source and target images per update (PixelDA: 32 of each)", low=1, high=65536)
    lr_g: float = option(1e-3, help="learning rate of G and the task classifier T, one Adam for both (PixelDA: 1e-3)", low=0.0, high=10.0)
    lr_d: float = option(1e-3, help="D learning rate (PixelDA: 1e-3)", low=0.0, high=10.0)
    n_critic: int = option(1, help="D updates per update of G and T (PixelDA: 1)", low=1, high=100)


@dataclass
class PixelDAConfig:
    """PixelDA's objective (Bousmalis et al. 2017, eq. 1 and 5): G and T minimize α·L_d + β·L_t + γ·L_c (adversarial,
    task and masked content-similarity losses), D maximizes L_d. The MNIST → MNIST-M weights are those the authors'
    released code gives for the paper's run (style_transfer_loss_weight 0.0113, task_loss_in_g_weight 0.0101, no
    similarity loss); with Adam only their ratio matters, and D's own loss is unweighted."""

    alpha: float = option(0.011, help="α: weight of the adversarial loss L_d in the objective of G (the paper's MNIST-M run: 0.0113)",
                          low=0.0)
    beta: float = option(0.01, help="β: weight of the task loss L_t, T's cross-entropy on source and adapted images with the source "
                                    "labels (the paper's MNIST-M run: 0.0101)", low=0.0)
    gamma: float = option(0.0, help="γ: weight of the masked pairwise mean squared error L_c between source and adapted images "
                                    "(eq. 4; the paper uses it for LineMod; 0 for MNIST-M, whose objective, eq. 1, has none)", low=0.0)
    mask_threshold: float = option(0.0, help="L_c's foreground mask: source pixels (mean over channels, in [-1, 1]) above this value "
                                             "(digits: the strokes)", low=-1.0, high=1.0)


@dataclass
class EvalConfig:
    """Evaluation during training (metric names from `gankit list`)."""

    every: int = option(0, help="steps between evaluations; 0: only at the end when metrics are set", low=0)
    metrics: list[str] = option(help="metrics to compute", factory=list)
    n: int = option(2500, help="generated samples per evaluation (and at most this many real ones)", low=2)
    extractor: str = option("auto", help="feature extractor (auto: the dataset's own, else its schema's: identity for points, inception-v3-fid for images)")
    weights: str | None = option(None, help="inception-v3-fid: path to pt_inception-2015-12-05-6726825d.pth")
    best_metric: str = option("", help="keep the best generator by this value (e.g. fid, modes); empty: the first metric's main value")
    seed: int = option(0, help="seed of the evaluation noise and real subsets", low=0)
    patience: int = option(0, help="early stopping: stop after this many evaluations without a better best_metric; 0: off", low=0)


@dataclass
class HealthConfig:
    """The divergence guard and the health monitor (training/health.py)."""

    guard: bool = option(True, help="roll back and lower learning rates on NaN/inf or an exploding D")
    max_retries: int = option(3, help="rollbacks before the run stops with exit code 3", low=0, high=100)
    snapshot_every: int = option(50, help="steps between in-memory snapshots the guard rolls back to", low=1)
    lr_factor: float = option(0.5, help="learning rates are multiplied by this on each rollback", low=0.0, high=1.0)
    strengthen: bool = option(True, help="on each rollback also switch on or raise a gradient penalty (critic losses: reg.gp=10, else ×2)")
    max_abs_logit: float = option(1e4, help="|mean D output| above this counts as exploding", low=0.0)
    monitor: bool = option(True, help="log health events (D overpowering, mode collapse, oscillation)")
    diversity_every: int = option(0, help="steps between diversity checks; 0: every train.sample_every", low=0)
    collapse_ratio: float = option(0.5, help="warn when G's sample spread falls below this fraction of the data's", low=0.0, high=1.0)


@dataclass
class AugmentConfig:
    """Differentiable augmentation of D's inputs (gankit.augment); images only. ADA settings belong here too."""

    policy: str = option("", help="DiffAugment transforms for real and fake alike, e.g. color,translation,cutout; empty: off")
    bcr_policy: str = option("flip,translation", help="the augmentation T of consistency regularization (reg.bcr_real / reg.bcr_fake)")
    ada: str = option("none", help="adaptive discriminator augmentation (Karras et al. 2020): none, adaptive (p steered toward ada_target) or fixed (p = ada_p)",
                  choices=("none", "adaptive", "fixed"))
    ada_pipeline: str = option("bgc", help="ADA transforms: bgc (blit, geometric, color), bgcc (+ cutout) or a comma list of transform names")
    ada_p: float = option(0.0, help="ADA: the augmentation probability at the start (adaptive) or throughout (fixed)", low=0.0, high=1.0)
    ada_target: float = option(0.6, help="ADA: target of r_t = E[sign(D(real))]; p rises above it and falls below", low=0.0, high=1.0)
    ada_kimg: float = option(500.0, help="ADA: thousands of images over which p can move from 0 to 1", low=0.0)
    ada_interval: int = option(4, help="ADA: D updates between adjustments of p", low=1, high=10000)


@dataclass
class RegBase:
    """Penalties (gankit.terms, formulas in gankit.regularizers); each weight 0 = off. D's loss = adversarial + Σ weight · mean
    penalty. The weights below the shared settings are declared by the registered terms."""

    lazy: int = option(1, help="gradient penalties (gp, dragan, r1, r2) every this many D updates, weight × interval (StyleGAN2)", low=1, high=1000)
    clip: float = option(0.0, help="WGAN weight clipping: D's parameters clamped to [−c, c] after each D step (Arjovsky et al. 2017: 0.01)", low=0.0)


@dataclass
class TrickBase:
    """What D sees (instance noise, PacGAN packing); the G-side tricks (feature matching, unrolling, top-k) are declared by
    their registered terms (gankit.terms); each 0 = off."""

    instance_noise: float = option(0.0, help="std of Gaussian noise on D's real and fake inputs at step 0, annealed linearly to 0 (Sønderby et al. 2017)", low=0.0)
    instance_noise_steps: int = option(0, help="steps over which the instance noise anneals to 0; 0: the whole run", low=0)
    pack: int = option(1, help="PacGAN: D judges this many samples jointly (Lin et al. 2018: 2-4); batch_size must be a multiple", low=1, high=64)
    pack_split: bool = option(False, help="PacGAN: G makes each position of the packs in its own call (the authors' code: batch-norm "
                                          "statistics per B/m samples); false: one call on the whole batch")
    probe_adversarial: int = option(0, help="steps between probes of D under attack (FGSM / PGD score changes, Lipschitz estimate, "
                                            "G's update against the worst case; 'adversarial' events); 0: off", low=0)
    probe_eps: float = option(0.0627, help="L∞ size of the probes' perturbations in data units (0.0627 = 8/255 of the [0, 1] "
                                           "pixel range on gankit's [-1, 1] scale)", low=0.0)


_TERM_SECTIONS: dict[str, type] = {}


def term_section(section: str) -> type:
    """The ``reg`` or ``trick`` schema: its shared fields plus every field the registered terms declare under it."""
    if section not in _TERM_SECTIONS:
        from ..terms import section_fields  # terms sit below config: a lazy import keeps `import gankit.config` light

        base = {"reg": RegBase, "trick": TrickBase}[section]
        _TERM_SECTIONS[section] = extend(f"{section.capitalize()}Config", base, section_fields(section))
    return _TERM_SECTIONS[section]


@dataclass
class VAEConfig:
    """The VAE's objective (Kingma & Welling 2014): the ELBO E_q[log p(x|z)] − β·KL(q(z|x) ‖ N(0, I))."""

    likelihood: str = option("auto", help="p(x|z): gaussian (points), bernoulli or logistic (images; logistic is a discrete, "
                                          "proper likelihood of 8-bit pixels); auto: gaussian for points, bernoulli for images",
                             choices=("auto", "gaussian", "bernoulli", "logistic"))
    beta: float = option(1.0, help="weight β of the KL term (1: the ELBO; β-VAE, Higgins et al. 2017, uses more)", low=0.0)
    kl_warmup: float = option(0.0, help="fraction of the run over which the KL weight rises linearly from 0 to β (Sønderby et al. 2016); 0: off",
                              low=0.0, high=1.0)
    sample: str = option("auto", help="what a sample is: draw (x ~ p(x|z)) or mean (the mean of p(x|z)); auto: draw for points, mean for images",
                         choices=("auto", "draw", "mean"))


@dataclass
class DensityTrainConfig(TrainConfig):
    """The likelihood-based families' schedule (flows, autoregressive models, diffusion): one network, one update per step,
    in float32 (log-determinants and bin probabilities lose too much in bf16)."""

    lr: float = option(1e-3, help="learning rate", low=0.0, high=10.0)
    beta1: float = option(0.9, help="Adam beta1 (sgd: momentum)", low=0.0, high=1.0)
    precision: str = option("fp32", help="autocast precision of the forward passes: fp32 (the default here: likelihoods need it), auto, bf16, "
                                         "fp16 or tf32 (GPU)", choices=("auto", "fp32", "bf16", "fp16", "tf32"))
    grad_clip: float = option(0.0, help="clip the gradient's global norm to this before each update (Glow and DDPM train with 1-ish "
                                        "clips); 0: off", low=0.0)


@dataclass
class FlowConfig:
    """Sampling of a normalizing flow: z ~ N(0, T²I) pushed through the inverse (Kingma & Dhariwal 2018, §5.2)."""

    temperature: float = option(1.0, help="temperature T of the samples evaluations and pictures use (1: the model's own distribution; "
                                          "Glow shows T = 0.7)", low=0.0, high=10.0)


@dataclass
class DiffusionConfig:
    """Sampling of a diffusion model (evaluations and pictures): DDPM's ancestral sampler over every step (Ho et al. 2020) or
    DDIM on a subsequence of the steps (Song et al. 2021)."""

    sampler: str = option("ddpm", help="ddpm (ancestral, all T steps) or ddim (model.timesteps / steps times faster)", choices=("ddpm", "ddim"))
    steps: int = option(50, help="ddim: sampling steps (a uniform subsequence of the T training steps)", low=1, high=100000)
    eta: float = option(0.0, help="ddim: η (0: deterministic; 1: DDPM-like noise on the subsequence)", low=0.0, high=1.0)


@dataclass(frozen=True)
class TaskSchema:
    """A task's own config sections (name -> schema class, or a function returning it) and its default model family."""

    sections: dict[str, Any]
    default_model: str
    help: str

    def section_classes(self) -> dict[str, type]:
        return {name: (cls if isinstance(cls, type) else cls()) for name, cls in self.sections.items()}


TASKS: dict[str, TaskSchema] = {
    "gan": TaskSchema({"train": GANTrainConfig, "loss": LossConfig, "reg": lambda: term_section("reg"), "augment": AugmentConfig,
                       "trick": lambda: term_section("trick")}, "dcgan", "a generator against a discriminator"),
    "vae": TaskSchema({"train": VAETrainConfig, "vae": VAEConfig}, "vae-conv", "variational autoencoder: encoder q(z|x), decoder p(x|z), the ELBO"),
    "flow": TaskSchema({"train": DensityTrainConfig, "flow": FlowConfig}, "glow",
                       "normalizing flow: exact likelihood, exact inverse (RealNVP, Dinh et al. 2017; Glow, Kingma & Dhariwal 2018)"),
    "autoregressive": TaskSchema({"train": DensityTrainConfig}, "pixelcnn",
                                 "autoregressive model: exact likelihood, sequential sampling (MADE, Germain et al. 2015; gated "
                                 "PixelCNN, van den Oord et al. 2016)"),
    "diffusion": TaskSchema({"train": DensityTrainConfig, "diffusion": DiffusionConfig}, "ddpm",
                            "diffusion model: DDPM (Ho et al. 2020), its variational bound, DDIM sampling (Song et al. 2021)"),
    "ctgan": TaskSchema({"train": CTGANTrainConfig, "ctgan": CTGANConfig}, "ctgan", "CTGAN: conditional tabular GAN (Xu et al. 2019)"),
    "tvae": TaskSchema({"train": TVAETrainConfig, "tvae": TVAEConfig}, "tvae", "TVAE: tabular VAE (Xu et al. 2019)"),
    "molgan": TaskSchema({"train": MolGANTrainConfig, "molgan": MolGANConfig}, "molgan",
                         "MolGAN: molecular graphs, WGAN-GP and a reward network (De Cao & Kipf 2018)"),
    "superres": TaskSchema({"train": PairTrainConfig, "sr": SRConfig}, "srresnet",
                           "super-resolution: SRResNet, SRGAN (Ledig et al. 2017), ESRGAN (Wang et al. 2018)"),
    "inpaint": TaskSchema({"train": PairTrainConfig, "inpaint": InpaintConfig}, "context-encoder",
                          "inpainting: context encoder with a PatchGAN (Pathak et al. 2016)"),
    "pix2pix": TaskSchema({"train": TranslationTrainConfig, "pix2pix": Pix2PixConfig}, "unet",
                          "paired translation: U-Net G, conditional PatchGAN D (Isola et al. 2017)"),
    "cyclegan": TaskSchema({"train": TranslationTrainConfig, "cyclegan": CycleGANConfig}, "cyclegan",
                           "unpaired translation: two ResNet Gs, two PatchGANs, cycle consistency (Zhu et al. 2017)"),
    "stargan": TaskSchema({"train": TranslationTrainConfig, "stargan": StarGANConfig}, "stargan",
                          "multi-domain translation: one conditional G, D with a domain head, WGAN-GP (Choi et al. 2018)"),
    "acgan": TaskSchema({"train": GANTrainConfig, "acgan": ACGANConfig}, "acgan",
                        "auxiliary-classifier GAN: D predicts the class beside real/fake (Odena et al. 2017)"),
    "ssgan": TaskSchema({"train": GANTrainConfig, "ssgan": SSGANConfig}, "ssgan",
                        "semi-supervised GAN: a K+1-class D on labelled, unlabelled and generated images (Salimans et al. 2016)"),
    "pixelda": TaskSchema({"train": PixelDATrainConfig, "pixelda": PixelDAConfig}, "pixelda",
                          "pixel-level domain adaptation: G maps source images to the target style, T learns the task on them "
                          "(Bousmalis et al. 2017)"),
}

#: the sections every task has besides ``train`` (whose schema is the task's: GANTrainConfig, VAETrainConfig)
COMMON_SECTIONS: dict[str, type] = {"data": DataConfig, "eval": EvalConfig, "health": HealthConfig}

__all__ = ["TaskConfig", "DataConfig", "TrainConfig", "GANTrainConfig", "VAETrainConfig", "CTGANTrainConfig", "TVAETrainConfig",
           "CTGANConfig", "TVAEConfig", "MolGANTrainConfig", "MolGANConfig", "PairTrainConfig", "SRConfig", "InpaintConfig",
           "TranslationTrainConfig", "Pix2PixConfig", "CycleGANConfig", "StarGANConfig", "EvalConfig", "HealthConfig", "LossConfig", "AugmentConfig", "RegBase",
           "TrickBase", "VAEConfig", "TaskSchema", "TASKS", "COMMON_SECTIONS", "term_section"]
