"""Text encoders: TextVectorization -> embedding -> conv or BiLSTM.

The vectorizer is built from the vocabulary the data source adapted on the
training split, so it is part of the model (and of anything saved from it):
the model takes raw strings.
"""

import keras

from research.backbones import layers

KERNEL_SIZES = (3, 4, 5)


def _tokens(vocabulary, sequence_length):
  inputs = keras.Input(shape=(), dtype="string")
  vectorizer = keras.layers.TextVectorization(
      vocabulary=list(vocabulary), output_sequence_length=sequence_length,
      name="text_vectorization")
  return inputs, vectorizer(inputs)  # [batch, sequence_length] int64


def text_cnn(vocabulary, sequence_length, width=128, l2=0.0):
  """Kim-style text CNN: convs of widths 3, 4, 5, max-pooled over time.

  Args:
    vocabulary: tokens, padding "" and OOV "[UNK]" first (from get_vocabulary).
    sequence_length: tokens per example.
    width: embedding size and filters per kernel size.
    l2: L2 penalty on the conv kernels.

  Returns:
    A keras.Model mapping strings [batch] to [batch, 3 * width] features.
  """
  inputs, tokens = _tokens(vocabulary, sequence_length)
  embedded = keras.layers.Embedding(len(vocabulary), width)(tokens)
  pooled = []
  for size in KERNEL_SIZES:
    conv = keras.layers.Conv1D(width, size, padding="same", activation="relu",
                               kernel_regularizer=layers.l2_or_none(l2))(
                                   embedded)  # [batch, length, width]
    pooled.append(keras.layers.GlobalMaxPooling1D()(conv))
  features = keras.layers.Concatenate()(pooled)
  return keras.Model(inputs, features, name="text_cnn")


def bilstm(vocabulary, sequence_length, width=128, l2=0.0):
  """Bidirectional LSTM over masked token embeddings.

  Args:
    vocabulary: tokens, padding "" and OOV "[UNK]" first (from get_vocabulary).
    sequence_length: tokens per example.
    width: embedding size and LSTM units per direction.
    l2: L2 penalty on the LSTM input kernels.

  Returns:
    A keras.Model mapping strings [batch] to [batch, 2 * width] features.
  """
  inputs, tokens = _tokens(vocabulary, sequence_length)
  embedded = keras.layers.Embedding(len(vocabulary), width,
                                    mask_zero=True)(tokens)
  lstm = keras.layers.LSTM(width, kernel_regularizer=layers.l2_or_none(l2))
  features = keras.layers.Bidirectional(lstm)(embedded)
  return keras.Model(inputs, features, name="bilstm")
