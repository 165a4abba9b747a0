"""Every session-state and widget key, declared once: pages, components and tests import them from here."""

# ---------------------------------------------------------------- shared by several pages
IMAGE_SOURCE = "image_source"  # the chosen input image, shared by the Filters and Pooling pages
LEARNER = "learner_token"  # str: who this browser is (components.learner); keys the saved runs and jobs
TRAINING_NOTICES = "training_notices"  # [(run name, status, message)] for jobs that ended without a run
TRAINING_START_ERROR = "training_start_error"  # why the last Train / preset click could not start
PRESENTATION = "presentation_mode"  # bool: presentation mode on (components.presentation, ?present=1)
PRESENTATION_TOGGLE = "presentation_toggle"  # the sidebar toggle widget; copied from PRESENTATION each run
APP_RAN = "app_ran"  # True once app.py has run in this session: its pages run through st.navigation
PAGE_LINKS = "page_links"  # {page script hash: the link parameters it last wrote}: a page reopens as it was left
ARCHITECTURE_CONFIG = "architecture_config"  # CNNConfig dict built on the Architecture page
TRAIN_DESIGN_REQUEST = "train_design_request"  # set by "Train this network": Training preselects the design

# ---------------------------------------------------------------- Architecture page


def architecture_widget(field: str) -> str:
    """The builder widget of one CNNConfig field (components.query_state.BUILDER_CHOICES): 'architecture_filters'."""
    return f"architecture_{field}"


# ---------------------------------------------------------------- Filters page
FILTERS_QUIZ_ROUND = "filters_quiz_round"  # int: which 'Guess first' question the Filters page shows
FILTERS_QUIZ_ANSWERED = "filters_quiz_answered"  # (question signature, chosen option) once checked

# ---------------------------------------------------------------- Pooling page

# ---------------------------------------------------------------- Training page
TRAINING_MODEL = "training_model"  # selectbox: Course CNN, the dense baseline or the Architecture page's design
TRAINING_IMAGES = "training_images"  # select_slider: how many training images
TRAINING_VALIDATION = "training_validation"  # slider: the share of them held out to validate
TRAINING_EPOCHS = "training_epochs"  # slider
TRAINING_BATCH = "training_batch"  # selectbox: batch size
TRAINING_OPTIMIZER = "training_optimizer"  # selectbox
TRAINING_LR = "training_lr"  # select_slider: learning rate
TRAINING_SEED = "training_seed"  # number_input
TRAINING_STOP_EARLY = "training_stop_early"  # toggle: stop at a training accuracy
TRAINING_THRESHOLD = "training_threshold"  # slider: that accuracy
TRAINING_LIVE = "live-training"  # the container of the job training now (the browser tests find its chart)
TOUR_TRAIN = "tour_train"  # the tour's Training step: its Train button


def training_cancel(job_id: int) -> str:
    """The Cancel button of a queued job."""
    return f"cancel-{job_id}"


def training_stop(job_id: int) -> str:
    """The Stop button of a job training now."""
    return f"stop-{job_id}"


# ---------------------------------------------------------------- Inspect page

# ---------------------------------------------------------------- Predict page
PREDICT_SOURCE = "predict_source"  # radio: Examples, Draw, Upload, Camera
PREDICT_EXAMPLE = "predict_example"  # selectbox: the class of the example photo
PREDICT_BRUSH = "predict_brush"  # slider: the drawing's brush size
PREDICT_CANVAS = "predict_canvas"  # the drawable canvas
PREDICT_UPLOAD = "predict_upload"  # file_uploader
PREDICT_CAMERA = "predict_camera"  # camera_input
PREDICT_INVERT = "predict_invert"  # segmented_control: Auto, On, Off
PREDICT_CROP = "predict_crop"  # toggle: crop to the object
PREDICT_DARKEN = "predict_darken"  # toggle: background to black
PREDICT_FILTER = "predict_filter"  # number_input: the filter shown after each layer
PREDICT_LAYER = "predict_layer"  # radio: the layer whose maps are all shown


# ---------------------------------------------------------------- Week 3 tour
TOUR_STEP = "tour_step"  # int: the Week 3 tour's current step, 0-based (also ?step=, 1-based)
