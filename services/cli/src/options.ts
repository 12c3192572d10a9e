import { InvalidArgumentError } from 'commander';
import { wholeNumberOption } from '../../usage/src/cli/whole-number-option';

/** Commander's parser for a count option: refused at parse time (exit 1, the option named), before anything is read or sent. */
export const wholeNumber = (option: string, max: number) => (v: string) => {
  try {
    return wholeNumberOption(option, v, max);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};
