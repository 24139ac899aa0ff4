"""Shared building blocks of the text-to-image families (GAN-INT-CLS, StackGAN, StackGAN++,
AttnGAN, MirrorGAN), written once and imported by every plugin:

- ``vocab``: tokenizer and vocabulary (AttnGAN's ``<end>``-padded word indices), OOV reporting,
  and a class-refusing reader for the originals' ``captions.pickle``;
- ``text_encoder``: the DAMSM bi-LSTM text encoder (AttnGAN ``RNN_ENCODER``);
- ``image_encoder``: the DAMSM image encoder (AttnGAN ``CNN_ENCODER`` on Inception-v3) and a
  small convolutional encoder for 64x64 shapes;
- ``damsm``: the DAMSM word and sentence matching losses and R-precision;
- ``damsm_model``: the trained encoder pair (text + image + vocabulary) as a saveable model;
- ``conditioning``: conditioning augmentation (StackGAN ``CA_NET``) and its KL term;
- ``attention``: word attention (AttnGAN ``GlobalAttentionGeneral`` and ``func_attention``);
- ``upblocks``: GLU, up-sampling blocks, residual blocks and the first/last generator stages
  (StackGAN++/AttnGAN ``upBlock``, ``ResBlock``, ``INIT_STAGE_G``, ``GET_IMAGE_G``);
- ``downblocks``: the discriminators' down-sampling blocks (StackGAN++/AttnGAN);
- ``init``: the DCGAN-style N(0, 0.02) initialisation (GAN-INT-CLS, StackGAN);
- ``widen``: function-preserving widening of a trained generator by channel copies (Net2WiderNet);
- ``attribute_classifier``: the shapes attribute classifier (caption accuracy, FID features);
- ``text_to_image``: ``TextToImageModel``, the base every text-to-image plugin subclasses
  (prompts, vocabulary, frozen text encoder, the ``ancestral`` sampler);
- ``attn_stages`` / ``attn_discriminators`` / ``attn_training``: the attentional generator,
  its discriminators and training loop, shared by AttnGAN and MirrorGAN;
- ``t2i_training``: what every text-to-image trainer uses (published encoders, caption features).

Module and attribute names follow the original code, so a converter maps an original state
dict onto these modules key for key (see each class's docstring).
"""
